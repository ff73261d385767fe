// 64 MiB written through a sync access handle in a worker, in 256 KiB writes, into a new OPFS file (deleted after)
// or over a 64 MiB file kept from the round before, interleaved, 9 rounds; then 6 s for writeback. CPU seconds of
// the browser's processes and of the machine (/proc/stat). `node_modules/.bin/node` this file, from the repository.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const worker = `onmessage = async ({ data: mode }) => {
  const root = await navigator.storage.getDirectory();
  const handle = await (await root.getFileHandle(mode === "overwrite" ? "kept" : "new", { create: true })).createSyncAccessHandle();
  const block = new Uint8Array(256 * 1024);
  for (let i = 0; i < block.length; i += 4096) block[i] = i;
  const started = performance.now();
  for (let at = 0; at < 64 * 1024 * 1024; at += block.length) handle.write(block, { at });
  const ms = performance.now() - started;
  handle.close();
  if (mode === "new") await root.removeEntry("new");
  postMessage(ms);
};`;
const server = createServer((request, response) => {
  response.setHeader("content-type", request.url === "/w.js" ? "text/javascript" : "text/html");
  response.end(request.url === "/w.js" ? worker : "<p>opfs</p>");
}).listen(0, "127.0.0.1");
await new Promise((resolve) => server.once("listening", resolve));
const profile = mkdtempSync(join(tmpdir(), "opfs-new-file-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--disable-gpu"],
});
const page = await context.newPage();
await page.goto(`http://127.0.0.1:${server.address().port}/`);
await page.evaluate(() => {
  window.writer = new Worker("/w.js");
});

/** user, nice, system, idle, iowait, irq, softirq: seconds. */
const machine = () => readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
const browserCpu = () => {
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("chromium")) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100;
};
const results = { new: [], overwrite: [] };
for (let round = 0; round < 9; round++) {
  for (const mode of ["new", "overwrite"]) {
    const [before, browserBefore] = [machine(), browserCpu()];
    const ms = await page.evaluate(
      (kind) =>
        new Promise((resolve) => {
          window.writer.onmessage = ({ data }) => resolve(data);
          window.writer.postMessage(kind);
        }),
      mode,
    );
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const spent = machine().map((ticks, i) => (ticks - (before[i] ?? 0)) / 100);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = spent;
    results[mode].push({ ms, browser: browserCpu() - browserBefore, busy: user + nice + system + irq + softirq, system });
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
for (const [mode, runs] of Object.entries(results)) {
  const of = (key) => median(runs.map((run) => run[key])).toFixed(2);
  console.log(`${mode}: write ${of("ms")} ms; browser CPU ${of("browser")} s; machine busy ${of("busy")} s, system ${of("system")} s`);
}
await context.close();
server.close();
rmSync(profile, { recursive: true, force: true });
