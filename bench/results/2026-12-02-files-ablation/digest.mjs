// Where Chromium hashes: 64 calls of crypto.subtle.digest("SHA-256") on 1 MiB blocks, timed before the first await
// (work done within the call, on the main thread) and until all settle; and a fresh 1 MiB block per copy against one
// block reused. Run from the repository: node_modules/.bin/node bench/results/2026-12-02-files-ablation/digest.mjs
import { chromium } from "playwright-core";

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--disable-gpu"] });
const page = await browser.newPage();
// A secure context, for crypto.subtle; nothing leaves the browser.
await page.route("https://digest.test/**", (route) => route.fulfill({ body: "<p>digest", contentType: "text/html" }));
await page.goto("https://digest.test/");
const trials = await page.evaluate(async () => {
  const MiB = 1 << 20;
  const blocks = Array.from({ length: 64 }, (_, i) => new Uint8Array(MiB).fill(i));
  const out = [];
  for (let trial = 0; trial < 3; trial++) {
    let t0 = performance.now();
    const pending = blocks.map((block) => crypto.subtle.digest("SHA-256", block));
    const withinCallsMs = performance.now() - t0;
    await Promise.all(pending);
    const untilSettledMs = performance.now() - t0;
    t0 = performance.now();
    for (const block of blocks) new Uint8Array(MiB).set(block);
    const freshBlocksMs = performance.now() - t0;
    t0 = performance.now();
    const reused = new Uint8Array(MiB);
    for (const block of blocks) reused.set(block);
    const reusedBlockMs = performance.now() - t0;
    out.push({ withinCallsMs, untilSettledMs, freshBlocksMs, reusedBlockMs });
  }
  return out;
});
console.log(JSON.stringify({ chromium: browser.version(), trials }, null, 1));
await browser.close();
