/**
 * Mesh formation in real Chromium: N peers (separate browser contexts) join
 * one room at once; the time from the first join to the last connection,
 * measured in the pages. Ours runs the real stack (the room Durable Object,
 * /mesh.js) twice: under `wrangler dev`, and as its deploy bundle in workerd
 * alone (./direct/workerd.ts), which separates what the local dev server adds.
 * The baselines run a minimal mesh page on a bare Node relay, all pairs in
 * parallel (the floor) and serialized (one newcomer and one pair at a time,
 * the classic tutorial design), and the same page over the no-logic relay
 * Durable Object, under `wrangler dev` and in workerd alone. Also a warm
 * room: seven peers form a mesh, then an eighth joins; the time it needs to
 * connect to all seven. Each timed window also records how much CPU the
 * server used and how long it waited for one (./sched.ts).
 *
 * Every page is traced (./trace.ts): each signaling frame sent and received,
 * each peer connection's state and data channel, on one clock. Each round
 * gets a timeline summary; the N = 8 and warm rounds of the traced variants
 * keep their whole timelines. Rounds are interleaved, the order of the
 * variants rotating from round to round, and every wait is bounded.
 */
import { readFileSync } from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startBareRelay } from "./bare/relay.ts";
import { type DirectServer, startDirectWorkerd } from "./direct/workerd.ts";
import { median, pause, ratio, round } from "./lib.ts";
import { type SchedDelta, sched, schedDelta } from "./sched.ts";
import { analyse, installTrace, type PageTrace, type Timeline } from "./trace.ts";

type Variant =
  | "rendezvous"
  | "rendezvous-direct"
  | "bare-parallel"
  | "bare-serial"
  | "bare-over-do"
  | "bare-over-do-direct";
const FORM_VARIANTS: Variant[] = [
  "rendezvous",
  "rendezvous-direct",
  "bare-parallel",
  "bare-serial",
  "bare-over-do",
  "bare-over-do-direct",
];
const WARM_VARIANTS: Variant[] = [
  "rendezvous",
  "rendezvous-direct",
  "bare-parallel",
  "bare-over-do",
  "bare-over-do-direct",
];
/** Variants whose N = 8 and warm rounds keep every page's whole timeline in the results. */
const KEEP_EVENTS = new Set<Variant>(["rendezvous", "rendezvous-direct", "bare-parallel"]);
const LABELS: Record<Variant, string> = {
  rendezvous: "Rendezvous, wrangler dev",
  "rendezvous-direct": "Rendezvous, workerd direct",
  "bare-parallel": "(a) bare relay, parallel",
  "bare-serial": "(b) bare relay, serialized",
  "bare-over-do": "(c) bare page over the no-logic DO, wrangler dev",
  "bare-over-do-direct": "(d) bare page over the no-logic DO, workerd direct",
};
/** The variants whose server runs in processes of its own (its CPU is measured). */
const SERVER_VARIANTS: Variant[] = ["rendezvous", "rendezvous-direct", "bare-over-do", "bare-over-do-direct"];
/** The warm room: this many peers first, then one more. */
const WARM_PEERS = 7;
/** Quiet time before a timed join: the previous round's pages are gone, this round's have loaded. */
const SETTLE_MS = 500;
/** Quiet time between the warm room forming and the newcomer joining. */
const WARM_SETTLE_MS = 1_000;
const WAIT_MS = 60_000;

interface Connections {
  /** Connection times, on the trace's clock. */
  at: number[];
}

declare global {
  interface Window {
    bare: { joinedAt: number; connectedAt: number[] };
    bareJoin(room: string, serial: boolean, server?: string): Promise<void>;
    meshConnections?: Connections;
  }
}

export interface MeshRun {
  scenario: "form" | "warm";
  variant: Variant;
  /** Peers in the room at the end (the warm room: 7 + the newcomer). */
  peers: number;
  round: number;
  /** Formation: first join → last connection. Warm: the newcomer's join → its last connection. */
  ms: number;
  /** Warm: the newcomer's join → the last of the seven seeing it connected. */
  everyoneMs?: number;
  /** Warm: the seven forming their mesh first (first join → last connection). */
  warmupMs?: number;
  /** /proc/loadavg (1, 5, 15 minutes) just before the timed join. */
  loadavg: number[];
  /** Reloads of the variant's `wrangler dev` (a watched file changed) during the round: the round is suspect. */
  devReloads?: number;
  /**
   * The timed window (join → all connected, as the bench saw it): the server's process group on a CPU and
   * waiting for one (the bare relay runs in the bench's own process, with the harness), and the machine's
   * CPU and I/O pressure.
   */
  sched: SchedDelta;
  timeline: Timeline;
  /** Every page's timeline, as `ms event` items (see ./trace.ts). */
  pages?: string[];
}

export interface MeshResults {
  date: string;
  options: { sizes: number[]; rounds: number; warm: boolean };
  /** What ran the direct-workerd targets: ours, and the no-logic relay. */
  direct: { commands: string[]; config: string }[];
  loadavg: { start: number[]; end: number[] };
  runs: MeshRun[];
  /** Rounds that did not complete within their bounds; left out of every median. */
  failures: MeshFailure[];
}

export interface MeshFailure {
  scenario: "form" | "warm";
  variant: Variant;
  peers: number;
  round: number;
  error: string;
}

function loadavg(): number[] {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
}

interface Urls {
  page: string;
  relay?: string;
}

/** Opens `count` traced pages of a variant, its library or page loaded, not joined yet. */
async function openPages(
  browser: Browser,
  variant: Variant,
  urls: Urls,
  count: number,
): Promise<{ contexts: BrowserContext[]; pages: Page[] }> {
  const contexts = await Promise.all(Array.from({ length: count }, () => browser.newContext()));
  await Promise.all(contexts.map((context) => context.addInitScript(installTrace)));
  const pages = await Promise.all(contexts.map((context) => context.newPage()));
  await Promise.all(pages.map((page) => page.goto(`${urls.page}/`)));
  if (variant.startsWith("rendezvous")) {
    // A string: this module never imports the library itself.
    await Promise.all(pages.map((page) => page.evaluate('import("/mesh.js").then((m) => { window.meshLib = m; })')));
  }
  return { contexts, pages };
}

/** Starts a join in the page and returns at once; connections are traced as `connect` events. */
function startJoin(page: Page, variant: Variant, room: string, relay?: string): Promise<void> {
  if (!variant.startsWith("rendezvous")) {
    return page.evaluate(
      ({ room, serial, relay }) => {
        window.meshConnections = { at: [] };
        const connections = window.meshConnections;
        // The page counts a connection by pushing onto this array: seen here on the trace's clock too.
        const times = window.bare.connectedAt;
        times.push = (...items: number[]) => {
          const at = performance.timeOrigin + performance.now();
          connections.at.push(at);
          window.meshTrace?.events.push({ t: at, k: "connect" });
          return Array.prototype.push.apply(times, items);
        };
        window.meshTrace?.events.push({ t: performance.timeOrigin + performance.now(), k: "join" });
        void window.bareJoin(room, serial, relay);
      },
      { room, serial: variant === "bare-serial", relay },
    );
  }
  return page.evaluate(
    `(() => {
      const now = () => performance.timeOrigin + performance.now();
      window.meshConnections = { at: [] };
      window.meshTrace.events.push({ t: now(), k: "join" });
      const room = window.meshLib.joinRoom(${JSON.stringify(room)});
      room.addEventListener("peer-connect", (e) => {
        const t = now();
        window.meshConnections.at.push(t);
        window.meshTrace.events.push({ t, k: "connect", peer: e.detail.peer.id });
      });
    })()`,
  );
}

function waitForConnections(pages: Page[], count: number): Promise<unknown> {
  return Promise.all(
    pages.map((page) =>
      page.waitForFunction((n) => (window.meshConnections?.at.length ?? 0) >= n, count, {
        polling: 100,
        timeout: WAIT_MS,
      }),
    ),
  );
}

const traces = (pages: Page[]) => Promise.all(pages.map((page) => page.evaluate(() => window.meshTrace as PageTrace)));
const connections = (pages: Page[]) =>
  Promise.all(pages.map((page) => page.evaluate(() => window.meshConnections?.at ?? [])));

/** N peers join at once: first join → last connection, and the round's timeline. */
async function formOnce(
  browser: Browser,
  variant: Variant,
  urls: Urls,
  peers: number,
  room: string,
  group: number,
): Promise<{ ms: number; loadavg: number[]; sched: SchedDelta; traces: PageTrace[] }> {
  const { contexts, pages } = await openPages(browser, variant, urls, peers);
  try {
    await pause(SETTLE_MS);
    const load = loadavg();
    const before = sched(group);
    await Promise.all(pages.map((page) => startJoin(page, variant, room, urls.relay)));
    await waitForConnections(pages, peers - 1);
    const window = schedDelta(before, sched(group));
    const all = await traces(pages);
    const joins = all.flatMap((trace) => trace.events.filter((e) => e.k === "join").map((e) => e.t));
    const ms = Math.max(...(await connections(pages)).flat()) - Math.min(...joins);
    return { ms: round(ms), loadavg: load, sched: window, traces: all };
  } finally {
    await Promise.all(contexts.map((context) => context.close()));
  }
}

/** Seven peers form a mesh; then an eighth joins. Times from its join. */
async function warmOnce(
  browser: Browser,
  variant: Variant,
  urls: Urls,
  room: string,
  group: number,
): Promise<{
  ms: number;
  everyoneMs: number;
  warmupMs: number;
  loadavg: number[];
  sched: SchedDelta;
  t0: number;
  traces: PageTrace[];
}> {
  const { contexts, pages } = await openPages(browser, variant, urls, WARM_PEERS + 1);
  const old = pages.slice(0, WARM_PEERS);
  const newcomer = pages[WARM_PEERS];
  if (!newcomer) throw new Error("no newcomer page");
  try {
    await pause(SETTLE_MS);
    await Promise.all(old.map((page) => startJoin(page, variant, room, urls.relay)));
    await waitForConnections(old, WARM_PEERS - 1);
    const formed = await traces(old);
    const firstJoin = Math.min(...formed.flatMap((t) => t.events.filter((e) => e.k === "join").map((e) => e.t)));
    const warmupMs = Math.max(...(await connections(old)).flat()) - firstJoin;
    await pause(WARM_SETTLE_MS);
    const load = loadavg();
    const before = sched(group);
    await startJoin(newcomer, variant, room, urls.relay);
    await waitForConnections([newcomer], WARM_PEERS);
    await waitForConnections(old, WARM_PEERS);
    const window = schedDelta(before, sched(group));
    const all = await traces(pages);
    const t0 = all[WARM_PEERS]?.events.find((e) => e.k === "join")?.t ?? Number.NaN;
    const seen = await connections(pages);
    const own = Math.max(...(seen[WARM_PEERS] ?? [])) - t0;
    const everyone = Math.max(...seen.slice(0, WARM_PEERS).map((at) => Math.max(...at))) - t0;
    return {
      ms: round(own),
      everyoneMs: round(Math.max(own, everyone)),
      warmupMs: round(warmupMs),
      loadavg: load,
      sched: window,
      t0,
      traces: all,
    };
  } finally {
    await Promise.all(contexts.map((context) => context.close()));
  }
}

/** The variants in round `pass`'s order: rotated by one each round. */
function rotated<T>(items: T[], pass: number): T[] {
  const shift = pass % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/**
 * `ceilingUrl` serves the no-logic relay Durable Object under the same
 * wrangler dev setup: the bare page over it separates what the local
 * platform costs from what our room costs. `vars` are the Worker variables
 * `oursUrl` runs with, given to the direct workerd too. Both Workers also
 * run in workerd alone, started and stopped here.
 */
export async function measureMesh(
  browser: Browser,
  oursUrl: string,
  ceilingUrl: string,
  options: {
    sizes: number[];
    rounds: number;
    warm?: boolean;
    vars?: Record<string, string>;
    /** What each `wrangler dev` printed so far, to flag rounds during which it reloaded. */
    devLogs?: { ours: () => string; ceiling: () => string };
    /** Process groups of the two `wrangler dev` servers, for the scheduler's accounting. */
    groups?: { ours?: number; ceiling?: number };
  },
): Promise<{ results: MeshResults; summary: string[] }> {
  const warm = options.warm ?? true;
  const startLoad = loadavg();
  const reloads = (variant: Variant) => {
    const log =
      variant === "rendezvous"
        ? options.devLogs?.ours
        : variant === "bare-over-do"
          ? options.devLogs?.ceiling
          : undefined;
    return (log?.().match(/Reloading local server/g) ?? []).length;
  };
  const bare = await startBareRelay();
  const direct: DirectServer[] = [];
  const runs: MeshRun[] = [];
  const failures: MeshFailure[] = [];
  try {
    const started = await Promise.allSettled([
      startDirectWorkerd({ vars: options.vars ?? {} }),
      startDirectWorkerd({ config: "bench/relay-worker/wrangler.toml" }),
    ]);
    for (const result of started) if (result.status === "fulfilled") direct.push(result.value);
    for (const result of started) if (result.status === "rejected") throw result.reason;
    const [oursDirect, ceilingDirect] = direct;
    if (!oursDirect || !ceilingDirect) throw new Error("direct workerd servers missing");
    const urlsOf = (variant: Variant): Urls => {
      if (variant === "rendezvous") return { page: oursUrl };
      if (variant === "rendezvous-direct") return { page: oursDirect.url };
      if (variant === "bare-over-do") return { page: bare.url, relay: ceilingUrl };
      if (variant === "bare-over-do-direct") return { page: bare.url, relay: ceilingDirect.url };
      return { page: bare.url };
    };
    /** The server's process group; 0: the bench's own process, where the bare relay runs. */
    const groupOf = (variant: Variant): number => {
      if (variant === "rendezvous") return options.groups?.ours ?? -1;
      if (variant === "rendezvous-direct") return oursDirect.pid;
      if (variant === "bare-over-do") return options.groups?.ceiling ?? -1;
      if (variant === "bare-over-do-direct") return ceilingDirect.pid;
      return 0;
    };
    for (let pass = 0; pass < options.rounds; pass++) {
      for (const peers of options.sizes) {
        for (const variant of rotated(FORM_VARIANTS, pass)) {
          const room = `mesh-${variant}-${peers}-${pass}-${Date.now()}`;
          const before = reloads(variant);
          const formed = await formOnce(browser, variant, urlsOf(variant), peers, room, groupOf(variant)).catch(
            (error: Error) => {
              failures.push({ scenario: "form", variant, peers, round: pass + 1, error: error.message.slice(0, 300) });
              process.stderr.write(`mesh: ${variant} N=${peers} round ${pass + 1} FAILED: ${error.message}\n`);
              return null;
            },
          );
          if (!formed) continue;
          const t0 = Math.min(...formed.traces.flatMap((t) => t.events.filter((e) => e.k === "join").map((e) => e.t)));
          const { timeline, pages } = analyse(formed.traces, t0);
          const devReloads = reloads(variant) - before;
          runs.push({
            scenario: "form",
            variant,
            peers,
            round: pass + 1,
            ms: formed.ms,
            loadavg: formed.loadavg,
            sched: formed.sched,
            ...(devReloads ? { devReloads } : {}),
            timeline,
            ...(peers === 8 && KEEP_EVENTS.has(variant) ? { pages } : {}),
          });
          process.stderr.write(
            `mesh: ${variant} N=${peers} round ${pass + 1}: ${formed.ms} ms (load ${formed.loadavg[0]})${devReloads ? " DEV RELOAD" : ""}\n`,
          );
        }
      }
      if (!warm) continue;
      for (const variant of rotated(WARM_VARIANTS, pass)) {
        const room = `warm-${variant}-${pass}-${Date.now()}`;
        const before = reloads(variant);
        const result = await warmOnce(browser, variant, urlsOf(variant), room, groupOf(variant)).catch(
          (error: Error) => {
            failures.push({
              scenario: "warm",
              variant,
              peers: WARM_PEERS + 1,
              round: pass + 1,
              error: error.message.slice(0, 300),
            });
            process.stderr.write(`mesh: warm ${variant} round ${pass + 1} FAILED: ${error.message}\n`);
            return null;
          },
        );
        if (!result) continue;
        const { timeline, pages } = analyse(result.traces, result.t0);
        const devReloads = reloads(variant) - before;
        runs.push({
          scenario: "warm",
          variant,
          peers: WARM_PEERS + 1,
          round: pass + 1,
          ms: result.ms,
          everyoneMs: result.everyoneMs,
          warmupMs: result.warmupMs,
          loadavg: result.loadavg,
          sched: result.sched,
          ...(devReloads ? { devReloads } : {}),
          timeline,
          ...(KEEP_EVENTS.has(variant) ? { pages } : {}),
        });
        process.stderr.write(
          `mesh: warm ${variant} round ${pass + 1}: newcomer ${result.ms} ms, all ${result.everyoneMs} ms (load ${result.loadavg[0]})${devReloads ? " DEV RELOAD" : ""}\n`,
        );
      }
    }
  } finally {
    await Promise.all(direct.map((server) => server.stop()));
    await bare.close();
  }
  const results: MeshResults = {
    date: new Date().toISOString(),
    options: { sizes: options.sizes, rounds: options.rounds, warm },
    direct: direct.map((server) => ({ commands: server.commands, config: server.config })),
    loadavg: { start: startLoad, end: loadavg() },
    runs,
    failures,
  };
  return { results, summary: summarize(results) };
}

const formRuns = (runs: MeshRun[], variant: Variant, peers: number) =>
  runs.filter((r) => r.scenario === "form" && r.variant === variant && r.peers === peers);
const warmRuns = (runs: MeshRun[], variant: Variant) =>
  runs.filter((r) => r.scenario === "warm" && r.variant === variant);
const fmt = (value: number) => (Number.isFinite(value) ? String(Math.round(value)) : "–");
const share = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : "–");

/** Timeline columns: the header, and one row's cells from a timeline. */
const TIMELINE_HEADER = [
  "last join",
  "last socket open",
  "last welcome",
  "last offer in",
  "last answer in",
  "last frame in",
  "longest silence",
  "longest stall",
  "offer/answer relay p50 / max",
  "last pc connected",
  "last connection",
  "server on CPU / waiting for one",
  "CPU / I/O pressure",
];
function timelineCells({ timeline: t, sched: s }: Pick<MeshRun, "timeline" | "sched">): string[] {
  return [
    fmt(t.lastJoin),
    fmt(t.lastSocketOpen),
    fmt(t.lastWelcome),
    fmt(t.lastOffer),
    fmt(t.lastAnswer),
    fmt(t.lastFrame),
    fmt(t.longestSilence),
    fmt(t.longestStall),
    `${fmt(t.descriptionRelayP50)} / ${fmt(t.descriptionRelayMax)}`,
    fmt(t.lastPcConnected),
    fmt(t.lastConnection),
    `${fmt(s.serverCpuMs)} / ${fmt(s.serverWaitMs)}`,
    `${share(s.cpuPressure)} / ${share(s.ioPressure)}`,
  ];
}
/** The median of each field over runs. */
function medians<T extends object>(items: T[]): T {
  const out: Record<string, number> = {};
  for (const key of Object.keys(items[0] ?? {})) {
    out[key] = median(items.map((item) => (item as Record<string, unknown>)[key] as number));
  }
  return out as T;
}
const medianCells = (runs: MeshRun[]) =>
  timelineCells({ timeline: medians(runs.map((r) => r.timeline)), sched: medians(runs.map((r) => r.sched)) });

const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
const rule = (count: number) => row(Array.from({ length: count }, () => "---"));

function summarize(results: MeshResults): string[] {
  const { runs, options } = results;
  const med = (variant: Variant, peers: number) => median(formRuns(runs, variant, peers).map((r) => r.ms));
  const reloaded = runs.filter((r) => r.devReloads).length;
  const failed = results.failures.map((f) => `${f.scenario} ${f.variant} N=${f.peers} round ${f.round}`);
  const loads = runs.map((r) => r.loadavg[0] ?? Number.NaN);
  const lines = [
    `### Mesh formation in Chromium (first join → last connection, ms; medians of ${options.rounds} interleaved rounds)`,
    "",
    `Load average (1 min) at the timed joins: median ${median(loads)}, range ${Math.min(...loads)}–${Math.max(...loads)}; /proc/loadavg at the start ${results.loadavg.start.join(" ")}, at the end ${results.loadavg.end.join(" ")}.${reloaded ? ` ${reloaded} rounds saw wrangler dev reload (a watched file changed): see devReloads.` : ""}${failed.length ? ` Failed and left out: ${failed.join("; ")}.` : ""}`,
    "",
    row([
      "N",
      "Rendezvous, wrangler dev",
      "Rendezvous, workerd direct",
      "(a) bare, parallel",
      "(b) bare, serialized",
      "(c) no-logic DO, wrangler dev",
      "(d) no-logic DO, workerd direct",
      "ours: wrangler / direct",
      "(c) / (d)",
      "ours / (a)",
      "ours / (b)",
      "ours / (c)",
      "direct / (a)",
      "direct / (d)",
    ]),
    rule(14),
    ...options.sizes.map((n) => {
      const [ours, direct, parallel, serial, overDo, overDoDirect] = FORM_VARIANTS.map((v) => med(v, n));
      return row([
        n,
        ...[ours, direct, parallel, serial, overDo, overDoDirect].map((value) => fmt(value ?? Number.NaN)),
        ratio(ours ?? Number.NaN, direct ?? Number.NaN),
        ratio(overDo ?? Number.NaN, overDoDirect ?? Number.NaN),
        ratio(ours ?? Number.NaN, parallel ?? Number.NaN),
        ratio(ours ?? Number.NaN, serial ?? Number.NaN),
        ratio(ours ?? Number.NaN, overDo ?? Number.NaN),
        ratio(direct ?? Number.NaN, parallel ?? Number.NaN),
        ratio(direct ?? Number.NaN, overDoDirect ?? Number.NaN),
      ]);
    }),
    "",
    "Server CPU per formation (ms on a CPU, all the server's processes and threads, join → all connected; medians). The bare relay runs inside the bench's own process, with the harness, so it has no comparable figure.",
    "",
    row(["N", ...SERVER_VARIANTS.map((v) => LABELS[v]), "ours: wrangler / direct", "(c) / (d)", "direct / (d)"]),
    rule(SERVER_VARIANTS.length + 4),
    ...options.sizes.map((n) => {
      const [ours, direct, overDo, overDoDirect] = SERVER_VARIANTS.map((v) =>
        median(formRuns(runs, v, n).map((r) => r.sched.serverCpuMs)),
      );
      return row([
        n,
        ...[ours, direct, overDo, overDoDirect].map((value) => fmt(value ?? Number.NaN)),
        ratio(ours ?? Number.NaN, direct ?? Number.NaN),
        ratio(overDo ?? Number.NaN, overDoDirect ?? Number.NaN),
        ratio(direct ?? Number.NaN, overDoDirect ?? Number.NaN),
      ]);
    }),
    "",
  ];
  const biggest = Math.max(...options.sizes);
  lines.push(
    `#### Timeline at N = ${biggest} (ms after the first join; medians over rounds. Silence: longest gap between two frames delivered to anyone. Stall: longest time an offer or answer was in flight and nothing was delivered to anyone.)`,
    "",
    row(["variant", ...TIMELINE_HEADER]),
    rule(TIMELINE_HEADER.length + 1),
    ...FORM_VARIANTS.map((v) => row([LABELS[v], ...medianCells(formRuns(runs, v, biggest))])),
    "",
    `Each round at N = ${biggest} (load: 1-minute load average at the join):`,
    "",
    row(["variant", "round", "load", ...TIMELINE_HEADER]),
    rule(TIMELINE_HEADER.length + 3),
    ...FORM_VARIANTS.flatMap((v) =>
      formRuns(runs, v, biggest).map((r) =>
        row([LABELS[v], `${r.round}${r.devReloads ? " (dev reload)" : ""}`, r.loadavg[0] ?? "", ...timelineCells(r)]),
      ),
    ),
    "",
  );
  if (!options.warm) return lines;
  const warmMed = (variant: Variant, pick: (r: MeshRun) => number) => median(warmRuns(runs, variant).map(pick));
  const own = (v: Variant) => warmMed(v, (r) => r.ms);
  const all = (v: Variant) => warmMed(v, (r) => r.everyoneMs ?? Number.NaN);
  lines.push(
    `### Warm room of ${WARM_PEERS}: a newcomer connects to all ${WARM_PEERS} (ms from its join; medians of ${options.rounds} rounds)`,
    "",
    row([
      "variant",
      `newcomer connected to all ${WARM_PEERS}`,
      `all ${WARM_PEERS} see it connected`,
      `forming the ${WARM_PEERS} first`,
      "server CPU ms",
      "newcomer / (a)",
      "newcomer / ours, direct",
    ]),
    rule(7),
    ...WARM_VARIANTS.map((v) =>
      row([
        LABELS[v],
        fmt(own(v)),
        fmt(all(v)),
        fmt(warmMed(v, (r) => r.warmupMs ?? Number.NaN)),
        SERVER_VARIANTS.includes(v) ? fmt(warmMed(v, (r) => r.sched.serverCpuMs)) : "–",
        ratio(own(v), own("bare-parallel")),
        ratio(own(v), own("rendezvous-direct")),
      ]),
    ),
    "",
    row(["variant", "round", "load", "newcomer ms", ...TIMELINE_HEADER]),
    rule(TIMELINE_HEADER.length + 4),
    ...WARM_VARIANTS.flatMap((v) =>
      warmRuns(runs, v).map((r) =>
        row([
          LABELS[v],
          `${r.round}${r.devReloads ? " (dev reload)" : ""}`,
          r.loadavg[0] ?? "",
          fmt(r.ms),
          ...timelineCells(r),
        ]),
      ),
    ),
    "",
  );
  return lines;
}
