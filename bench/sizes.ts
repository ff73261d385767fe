/**
 * Sizes: /mesh.js and the Worker bundle as shipped (minified, gzipped), next
 * to the clients people use instead. Their figures are the quoted
 * numbers, not measured here (their packages are not dependencies).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const QUOTED = [
  { name: "PeerJS client", kb: 22.7 },
  { name: "simple-peer", kb: 28.3 },
  { name: "Trystero", kb: 22.6 },
];

const gzipKb = (bytes: Buffer) => Math.round((gzipSync(bytes, { level: 9 }).length / 1024) * 10) / 10;

export async function measureSizes(): Promise<{ meshKb: number; workerKb: number; summary: string[] }> {
  execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
  const meshKb = gzipKb(readFileSync("public/mesh.js"));
  const out = mkdtempSync(join(tmpdir(), "rdv-bundle-"));
  execFileSync(process.execPath, ["node_modules/wrangler/bin/wrangler.js", "deploy", "--dry-run", `--outdir=${out}`], {
    stdio: "ignore",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const bundle = readdirSync(out).find((file) => file.endsWith(".js"));
  if (!bundle) throw new Error("wrangler deploy --dry-run wrote no bundle");
  const workerKb = gzipKb(readFileSync(join(out, bundle)));
  const summary = [
    "### Sizes (minified, gzip -9)",
    "",
    "| what | KB gz |",
    "| --- | --- |",
    `| /mesh.js (chat, files, reconnect, perfect negotiation) | ${meshKb} |`,
    `| Worker bundle (wrangler deploy --dry-run) | ${workerKb} |`,
    ...QUOTED.map((client) => `| ${client.name} (quoted, not measured) | ${client.kb} |`),
    "",
  ];
  return { meshKb, workerKb, summary };
}
