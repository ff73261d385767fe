// How long Chromium's crypto.subtle.digest takes per algorithm: 64 calls on one reused 1 MiB block (no fresh
// memory per call), 5 rounds each, [ms until the last call returned, ms until all settled]. Run from the repository
// root (playwright-core resolves from there): node bench/results/2026-12-02-files-ablation/late/digest-algorithms.mjs
// Output of the run at 21:21 UTC: digest-algorithms.log.
import { createServer } from "node:http";
import { chromium } from "playwright-core";

// WebCrypto needs a secure context: a page from 127.0.0.1.
const server = createServer((_, response) => response.end("<html></html>")).listen(8799, "127.0.0.1");
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless=new", "--no-sandbox"] });
const page = await browser.newPage();
await page.goto("http://127.0.0.1:8799/");
const result = await page.evaluate(async () => {
  const block = new Uint8Array(1 << 20);
  crypto.getRandomValues(block.subarray(0, 65536));
  const out = {};
  for (let round = 0; round < 5; round++) {
    for (const algorithm of ["SHA-256", "SHA-512", "SHA-1"]) {
      const start = performance.now();
      const digests = [];
      for (let i = 0; i < 64; i++) digests.push(crypto.subtle.digest(algorithm, block));
      const called = performance.now();
      await Promise.all(digests);
      const settled = performance.now();
      out[algorithm] ??= [];
      out[algorithm].push([Math.round(called - start), Math.round(settled - start)]);
    }
  }
  return out;
});
console.log(JSON.stringify(result));
await browser.close();
server.close();
