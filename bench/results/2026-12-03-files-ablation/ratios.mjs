import { readFileSync } from "node:fs";
const [file, ...pairs] = process.argv.slice(2);
const rate = {};
for (const m of readFileSync(file, "utf8").matchAll(/^files: (\S+) 64 MiB round (\d+): ([\d.]+) MB\/s/gm)) {
  (rate[m[1]] ??= {})[m[2]] = Number(m[3]);
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
for (const k of Object.keys(rate)) console.log(k, "median", med(Object.values(rate[k])).toFixed(1), "n", Object.keys(rate[k]).length);
for (const p of pairs) {
  const [a, b] = p.split("/");
  const rs = Object.keys(rate[a] ?? {}).filter((r) => rate[b]?.[r]).map((r) => rate[a][r] / rate[b][r]);
  if (!rs.length) continue;
  console.log(`${a}/${b}: medians ${(med(Object.values(rate[a])) / med(Object.values(rate[b]))).toFixed(2)}; within ${med(rs).toFixed(2)} (${Math.min(...rs).toFixed(2)}-${Math.max(...rs).toFixed(2)}, n=${rs.length}, >=0.95: ${rs.filter((x) => x >= 0.95).length})`);
}
