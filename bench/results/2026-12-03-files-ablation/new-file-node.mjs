// The kernel's cost of a new file, outside any browser: 64 MiB written in 256 KiB writes into a new file, which is
// then deleted, five times 6 s apart (as a bench's transfers are). `node_modules/.bin/node` this file.
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const buffer = Buffer.alloc(256 * 1024, 7);
const path = join(tmpdir(), "rendezvous-new-file.bin");
for (let round = 0; round < 5; round++) {
  const fd = openSync(path, "w");
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let at = 0; at < 64 * 1024 * 1024; at += buffer.length) writeSync(fd, buffer, 0, buffer.length, at);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  closeSync(fd);
  unlinkSync(path);
  console.log(`new file: ${ms.toFixed(0)} ms, system CPU ${(used.system / 1000).toFixed(0)} ms`);
  await new Promise((resolve) => setTimeout(resolve, 6000));
}
