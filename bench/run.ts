/**
 * `npm run bench`: every part, each against baselines measured in the same
 * run, interleaved (A B A B …), reported as medians and ratios. Raw results
 * go to bench/results/<date>.json; a Markdown summary is printed at the end.
 *
 *   node bench/run.ts [--quick] [--only=signaling,join,mesh,cost,files,privacy,call,sizes] [--rounds=N]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { launchBrowser } from "../test/e2e/chromium.ts";
import { DevServer } from "../test/e2e/server.ts";
import { measureCall } from "./call.ts";
import { measureCost } from "./cost.ts";
import { measureFiles } from "./files.ts";
import { median, percentile, round } from "./lib.ts";
import { measureMesh } from "./mesh.ts";
import { measurePrivacy } from "./privacy.ts";
import { joinAll, type LoadResult, peerjsTarget, rendezvousTarget, runLoad, type Target } from "./signaling.ts";
import { measureSizes } from "./sizes.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args
  .find((arg) => arg.startsWith("--only="))
  ?.slice(7)
  .split(",");
const wanted = (part: string) => !only || only.includes(part);
const roundsFlag = Number(args.find((arg) => arg.startsWith("--rounds="))?.slice(9));
/** Rounds for a part: its default, or --rounds=N for every part. */
const rounds = (fallback: number) => (Number.isInteger(roundsFlag) && roundsFlag > 0 ? roundsFlag : fallback);

/** Raised for the run so the load generator measures the server, not our flood limits. */
const BENCH_VARS = { RATE_LIMIT_PER_SECOND: "1000000", RATE_LIMIT_BURST: "1000000", JOIN_RATE_PER_IP: "0" };

interface Report {
  date: string;
  quick: boolean;
  machine: { cpus: number; model: string; memoryGiB: number; node: string };
  notes: string[];
  parts: Record<string, unknown>;
  summary: string[];
}

const report: Report = {
  date: new Date().toISOString(),
  quick,
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? "unknown",
    memoryGiB: round(totalmem() / 1024 ** 3),
    node: process.version,
  },
  notes: [
    `Rendezvous ran with RATE_LIMIT_PER_SECOND=${BENCH_VARS.RATE_LIMIT_PER_SECOND}, RATE_LIMIT_BURST=${BENCH_VARS.RATE_LIMIT_BURST} and JOIN_RATE_PER_IP=${BENCH_VARS.JOIN_RATE_PER_IP}, so its per-peer flood limits and per-address join limit do not throttle the load generator (every client is 127.0.0.1).`,
  ],
  parts: {},
  summary: [],
};

/** The PeerJS server in its own process group, on loopback. */
async function startPeerjs(): Promise<{ port: number; process: ChildProcess }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, ["bench/peerjs-server.ts", String(port)], {
    detached: true,
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("peerjs server did not start")), 20_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("peerjs ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { port, process: child };
}

function stopGroup(child: ChildProcess): void {
  if (child.pid && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
}

async function signalingPart(targets: Target[]): Promise<void> {
  const options = quick
    ? { rooms: 4, peersPerRoom: 4, paced: 1_000, rate: 1_000, burst: 1_000 }
    : { rooms: 10, peersPerRoom: 4, paced: 5_000, rate: 1_000, burst: 5_000 };
  const passes = rounds(quick ? 1 : 3);
  const runs: LoadResult[] = [];
  for (let pass = 0; pass < passes; pass++) {
    for (const target of targets) {
      process.stderr.write(`signaling: ${target.name}, round ${pass + 1}/${passes}\n`);
      runs.push(await runLoad(target, options, `load-${pass}`));
    }
  }
  report.parts.signaling = { options, runs };
  const med = (name: string, pick: (run: LoadResult) => number) =>
    median(runs.filter((run) => run.target === name).map(pick));
  const rows = targets.map((target) => [
    target.name,
    med(target.name, (r) => r.joinsPerSecond),
    med(target.name, (r) => r.paced.p50),
    med(target.name, (r) => r.paced.p95),
    med(target.name, (r) => r.paced.p99),
    med(target.name, (r) => r.unthrottled.msgsPerSecond),
    med(target.name, (r) => r.unthrottled.p50),
    med(target.name, (r) => r.unthrottled.p99),
    med(target.name, (r) => r.unthrottled.cpuMsPerMessage),
    med(target.name, (r) => r.unthrottled.rssMiB),
  ]);
  const [ours, ceiling, peerjs] = targets.map((target) => target.name);
  const ratioOf = (name: string | undefined, pick: (run: LoadResult) => number) =>
    name && ours ? round(med(ours, pick) / med(name, pick), 2) : Number.NaN;
  report.parts.signalingRatios = {
    throughputVsCeiling: ratioOf(ceiling, (r) => r.unthrottled.msgsPerSecond),
    pacedP50VsCeiling: ratioOf(ceiling, (r) => r.paced.p50),
    pacedP99VsCeiling: ratioOf(ceiling, (r) => r.paced.p99),
    throughputVsPeerjs: ratioOf(peerjs, (r) => r.unthrottled.msgsPerSecond),
    cpuPerMessageVsCeiling: ratioOf(ceiling, (r) => r.unthrottled.cpuMsPerMessage),
  };
  report.summary.push(
    `### Signaling relay (${options.rooms} rooms × ${options.peersPerRoom} peers; ${options.paced} messages at ${options.rate}/s, then ${options.burst} unthrottled; medians of ${passes} interleaved rounds; zero loss verified)`,
    "",
    "| server | joins/s | paced p50 ms | paced p95 ms | paced p99 ms | unthrottled msgs/s | unthrottled p50 ms | unthrottled p99 ms | server CPU ms/msg | server RSS MiB |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
    "",
    `Rendezvous / ceiling: throughput ${JSON.stringify(report.parts.signalingRatios)}`,
    "",
  );
}

async function joinPart(ours: Target, ceiling: Target): Promise<void> {
  const passes = rounds(quick ? 1 : 5);
  const runs: { target: string; p50: number; p99: number }[] = [];
  for (let pass = 0; pass < passes; pass++) {
    for (const target of [ours, ceiling]) {
      const joined = await joinAll(target, { rooms: 50, peersPerRoom: 4 }, `join-${pass}`);
      for (const peer of joined.peers) peer.socket.terminate();
      const { latencies } = joined;
      runs.push({
        target: target.name,
        p50: round(percentile(latencies, 50), 2),
        p99: round(percentile(latencies, 99), 2),
      });
    }
  }
  report.parts.join = runs;
  const med = (name: string, key: "p50" | "p99") => median(runs.filter((r) => r.target === name).map((r) => r[key]));
  report.summary.push(
    `### Join latency (200 peers joining 50 rooms at once, upgrade → welcome, medians of ${passes} interleaved rounds)`,
    "",
    "| server | p50 ms | p99 ms |",
    "| --- | --- | --- |",
    ...[ours, ceiling].map((t) => `| ${t.name} | ${med(t.name, "p50")} | ${med(t.name, "p99")} |`),
    "",
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  const needServers = ["signaling", "join", "mesh", "cost", "files"].some(wanted);
  const servers: { ours?: DevServer; ceiling?: DevServer; peerjs?: { port: number; process: ChildProcess } } = {};
  try {
    if (needServers) {
      [servers.ours, servers.ceiling, servers.peerjs] = await Promise.all([
        DevServer.start({ vars: BENCH_VARS }),
        DevServer.start({ config: "bench/relay-worker/wrangler.toml" }),
        startPeerjs(),
      ]);
    } else if (wanted("call")) {
      // The call part needs only ours: no idle baselines beside a CPU measurement.
      servers.ours = await DevServer.start({ vars: BENCH_VARS });
    }
    const { ours, ceiling, peerjs } = servers;
    if (ours?.pid && ceiling?.pid && peerjs?.process.pid) {
      const targets = [
        rendezvousTarget("Rendezvous", ours.url, ours.pid, true),
        rendezvousTarget("no-logic relay DO (ceiling)", ceiling.url, ceiling.pid, false),
        peerjsTarget(peerjs.port, peerjs.process.pid),
      ];
      if (wanted("signaling")) await signalingPart(targets);
      const [oursTarget, ceilingTarget] = targets;
      if (wanted("join") && oursTarget && ceilingTarget) await joinPart(oursTarget, ceilingTarget);
    }
    if (["mesh", "cost", "files", "privacy", "call"].some(wanted)) {
      const browser = await launchBrowser();
      try {
        if (wanted("mesh") && ours && ceiling) {
          const mesh = await measureMesh(browser, ours.url, ceiling.url, {
            ...(quick ? { sizes: [2, 8], rounds: rounds(1) } : { sizes: [2, 4, 6, 8], rounds: rounds(5) }),
            vars: BENCH_VARS,
            devLogs: { ours: () => ours.log, ceiling: () => ceiling.log },
            groups: { ours: ours.pid, ceiling: ceiling.pid },
          });
          report.parts.mesh = mesh.results;
          report.summary.push(...mesh.summary);
        }
        if (wanted("cost") && ours && ceiling) {
          const cost = await measureCost(browser, ours.url, ceiling.url, {
            rounds: rounds(quick ? 1 : 3),
            idleSeconds: 60,
          });
          report.parts.cost = cost.runs;
          report.summary.push(...cost.summary);
        }
        if (wanted("files") && ours) {
          // Its own two Chromiums (persistent profiles); --files-big=MiB sizes the memory part's file (0 skips it);
          // --files-pin holds each to a core of its own.
          const big = Number(args.find((arg) => arg.startsWith("--files-big="))?.slice(12) ?? (quick ? 256 : 1024));
          const files = await measureFiles(ours.url, {
            ...(quick ? { mib: 16, smallMib: 4, rounds: rounds(1) } : { mib: 64, smallMib: 16, rounds: rounds(3) }),
            bigMib: Number.isInteger(big) && big >= 0 ? big : 1024,
            memoryRounds: rounds(quick ? 1 : 3),
            bigTimeoutMs: 420_000,
            memoryBudgetMs: 900_000,
            profile: true,
            pin: args.includes("--files-pin"),
          });
          const { runs, memory, profiles, load, states } = files;
          report.parts.files = { runs, memory, profiles, load, states };
          report.summary.push(...files.summary);
        }
        if (wanted("privacy")) {
          // Its own wrangler dev and coturn: the Worker issues TURN credentials only when configured.
          const privacy = await measurePrivacy(browser, { rounds: rounds(quick ? 3 : 7) });
          report.parts.privacy = privacy.runs;
          report.summary.push(...privacy.summary);
        }
        if (wanted("call") && ours) {
          const call = await measureCall(browser, ours.url, { rounds: rounds(quick ? 2 : 3) });
          report.parts.call = call.runs;
          report.summary.push(...call.summary);
        }
      } finally {
        await browser.close();
      }
    }
    if (wanted("sizes")) {
      const sizes = await measureSizes();
      report.parts.sizes = sizes;
      report.summary.push(...sizes.summary);
    }
  } finally {
    await servers.ours?.stop();
    await servers.ceiling?.stop();
    if (servers.peerjs) stopGroup(servers.peerjs.process);
  }
  report.notes.push(`Whole run: ${round((performance.now() - started) / 1000)} s.`);
  mkdirSync("bench/results", { recursive: true });
  const file = `bench/results/${report.date.replace(/[:.]/g, "-")}.json`;
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    [
      `## Rendezvous benchmarks (${report.date}${quick ? ", quick" : ""})`,
      "",
      ...report.summary,
      ...report.notes.map((n) => `- ${n}`),
      "",
      `Raw: ${file}`,
    ].join("\n"),
  );
}

await main();
