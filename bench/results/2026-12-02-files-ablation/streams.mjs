// How a picked 64 MiB file reads through streams in Chromium: the whole file's stream, one slice's stream over all of
// it, and a new slice's stream every 16 MiB (as sendFile's BlockReader), each into one reused 1 MiB buffer; wall ms,
// chunks and their sizes, and the browser's CPU from /proc. Run from the repository:
// node_modules/.bin/node bench/results/2026-12-02-files-ablation/streams.mjs
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const MiB = 1 << 20;
const path = join(tmpdir(), "streams-64.bin");
const bytes = Buffer.alloc(64 * MiB);
for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i & 255;
writeFileSync(path, bytes);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--disable-gpu"] });
const page = await browser.newPage();
await page.setContent('<input type="file" id="f">');
await page.locator("#f").setInputFiles(path);
const ticks = () => {
  // All chromium processes' CPU (the only browser this probe starts).
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("chromium")) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone meanwhile.
    }
  }
  return total / 100;
};
const out = [];
for (let round = 0; round < 5; round++) {
  for (const mode of ["whole", "one-slice", "slices-16MiB"]) {
    const before = ticks();
    const result = await page.evaluate(async (mode) => {
      const file = document.getElementById("f").files[0];
      const block = new Uint8Array(1 << 20);
      const SEG = 16 << 20;
      let chunks = 0;
      let smallest = Infinity;
      let largest = 0;
      const t0 = performance.now();
      let at = 0;
      let filled = 0;
      while (at < file.size) {
        const end = mode === "slices-16MiB" ? Math.min(file.size, at + SEG) : file.size;
        const stream = mode === "whole" ? file.stream() : file.slice(at, end).stream();
        const reader = stream.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks++;
          smallest = Math.min(smallest, value.length);
          largest = Math.max(largest, value.length);
          for (let i = 0; i < value.length; ) {
            const taken = Math.min(value.length - i, block.length - filled);
            block.set(value.subarray(i, i + taken), filled);
            filled = (filled + taken) % block.length;
            i += taken;
          }
          at += value.length;
        }
      }
      return { ms: Math.round(performance.now() - t0), chunks, smallest, largest };
    }, mode);
    out.push({ round, mode, ...result, cpuS: Math.round((ticks() - before) * 100) / 100 });
  }
}
console.log(JSON.stringify({ chromium: browser.version(), out }, null, 0).replaceAll("},{", "},\n{"));
await browser.close();
rmSync(path);
