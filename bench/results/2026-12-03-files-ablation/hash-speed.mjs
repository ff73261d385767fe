// Times SHA-256 (WebCrypto) against MurmurHash3 (src/client/murmur.ts) in this machine's Chromium, on an idle
// page: `node_modules/.bin/node bench/results/2026-12-03-files-ablation/hash-speed.mjs` from the repository.
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { chromium } from "playwright-core";

const here = new URL(".", import.meta.url);
const murmur = buildSync({
  entryPoints: [fileURLToPath(new URL("../../../src/client/murmur.ts", here))],
  bundle: true,
  format: "iife",
  globalName: "M",
  write: false,
}).outputFiles[0].text;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage();
await page.goto(new URL("hash-speed.html", here).href);
await page.addScriptTag({ content: murmur }); // window.M.murmur3
console.log(await page.evaluate("run()"));
await browser.close();
