// Per kind: median rate, and median rate by the kind that ran just before it (64 MiB rounds; a small sendFile ends each round).
import { readFileSync } from "node:fs";
const lines = [...readFileSync(process.argv[2], "utf8").matchAll(/^files: (\S+) (\d+) MiB round (\d+): ([\d.]+) MB\/s/gm)];
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const by = {};
let prev = null;
for (const [, kind, mib, , rate] of lines) {
  const k = mib === "64" ? kind : `${kind}-small`;
  if (mib === "64" && prev) ((by[kind] ??= {})[prev] ??= []).push(Number(rate));
  prev = k;
}
for (const [kind, after] of Object.entries(by)) {
  const all = Object.values(after).flat();
  console.log(kind.padEnd(12), "all", med(all).toFixed(1), "n", all.length, " | after:", Object.entries(after).map(([p, r]) => `${p} ${med(r).toFixed(1)} (${r.length})`).join(", "));
}
