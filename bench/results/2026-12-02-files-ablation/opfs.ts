// CPU (all of the browser's processes) and time of ways to write 64 MiB into OPFS, 5 interleaved rounds, in one
// Chromium with a persistent profile (OPFS on disk), no network. Run from the repository:
// node_modules/.bin/node bench/results/2026-12-02-files-ablation/opfs.ts
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from "../../../test/e2e/chromium.ts";
import { browserPid, sampleBrowser, sumOf } from "../../procs.ts";

const dir = mkdtempSync(join(tmpdir(), "opfs-"));
const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS });
const pid = browserPid(dir);
const page = context.pages()[0] ?? (await context.newPage());
const WORKER = `
onmessage = async ({ data }) => {
  const root = await navigator.storage.getDirectory();
  const f = await root.getFileHandle(data.name, { create: true });
  const handle = await f.createSyncAccessHandle();
  let at = 0;
  onmessage = ({ data }) => {
    if (data === "close") { handle.flush(); handle.close(); postMessage("closed"); return; }
    at += handle.write(new Uint8Array(data), { at });
    postMessage("ok");
  };
  postMessage("ready");
};`;
await context.route("https://opfs.test/**", (route) =>
  route.request().url().endsWith("/w.js")
    ? route.fulfill({ body: WORKER, contentType: "text/javascript" })
    : route.fulfill({ body: "<p>opfs", contentType: "text/html" }),
);
await page.goto("https://opfs.test/");
const cpu = () => sumOf(sampleBrowser(pid), "cpuSeconds");
const variants = {
  writable1: `(async () => {
    const root = await navigator.storage.getDirectory();
    const f = await root.getFileHandle("w" + Math.random(), { create: true });
    const out = await f.createWritable();
    for (let i = 0; i < 64; i++) await out.write(new Uint8Array(1 << 20).fill(i));
    await out.close();
    await root.removeEntry(f.name);
  })()`,
  writable4: `(async () => {
    const root = await navigator.storage.getDirectory();
    const f = await root.getFileHandle("w" + Math.random(), { create: true });
    const out = await f.createWritable();
    for (let i = 0; i < 16; i++) await out.write(new Uint8Array(4 << 20).fill(i));
    await out.close();
    await root.removeEntry(f.name);
  })()`,
  sync1: `(async () => {
    const w = new Worker("/w.js");
    const next = () => new Promise((r) => (w.onmessage = ({ data }) => r(data)));
    const name = "s" + Math.random();
    let reply = next(); w.postMessage({ name }); await reply;
    for (let i = 0; i < 64; i++) { const b = new Uint8Array(1 << 20).fill(i); reply = next(); w.postMessage(b.buffer, [b.buffer]); await reply; }
    reply = next(); w.postMessage("close"); await reply; w.terminate();
    await (await navigator.storage.getDirectory()).removeEntry(name);
  })()`,
  fillOnly: `(async () => { for (let i = 0; i < 64; i++) new Uint8Array(1 << 20).fill(i); })()`,
};
const results: Record<string, number[][]> = {};
for (let round = 0; round < 5; round++) {
  for (const [name, script] of Object.entries(variants)) {
    const c0 = cpu();
    const t0 = performance.now();
    await page.evaluate(script);
    const ms = performance.now() - t0;
    const c = cpu() - c0;
    (results[name] ??= []).push([Math.round(ms), Math.round(c * 100) / 100]);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, rows] of Object.entries(results))
  console.log(name, "ms", med(rows.map((r) => r[0] ?? 0)), "cpu s", med(rows.map((r) => r[1] ?? 0)), JSON.stringify(rows));
await context.close();
