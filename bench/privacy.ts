/**
 * What privacy costs a pair of Chromium pages: the time to connect with
 * /mesh.js direct, relay-only, keyed (end-to-end sealed signaling) and both,
 * through a real `wrangler dev` that issues TURN credentials and a real
 * coturn, interleaved; and the signaling bytes a pair sends, keyed against
 * plain. Relay-only rounds are checked to run relay to relay, so their
 * figure is what it says.
 */
import { type Browser, errors, type Page } from "playwright-core";
import { RECORD_PEER_CONNECTIONS, selectedPaths } from "../test/e2e/peer-connections.ts";
import { DevServer } from "../test/e2e/server.ts";
import type { Coturn } from "../test/e2e/turn.ts";
import { median, ratio, round } from "./lib.ts";

type Mode = "direct" | "relay" | "keyed" | "relay-keyed";
const MODES: Mode[] = ["direct", "relay", "keyed", "relay-keyed"];
const SETUPS: Record<Mode, { label: string; relay: boolean; keyed: boolean }> = {
  direct: { label: "direct (a)", relay: false, keyed: false },
  relay: { label: "relay-only (b)", relay: true, keyed: false },
  keyed: { label: "keyed (c)", relay: false, keyed: true },
  "relay-keyed": { label: "relay-only + keyed (d)", relay: true, keyed: true },
};

const CONNECT_WITHIN_MS = 30_000;
const GATHERED_WITHIN_MS = 10_000;
/** Signaling counts as finished once no frame has gone out for this long… */
const QUIET_MS = 300;
/** …or, at the latest, this long after both pages gathered every candidate. */
const SETTLE_WITHIN_MS = 5_000;

interface PairPage {
  joinedAt: number;
  connectedAt: number[];
  /** The room's error events and the last signaling state, to say why a pair did not connect. */
  errors: string[];
  signaling: string;
}

declare global {
  interface Window {
    pair: PairPage;
  }
}

/** Text frames a page sent on its signaling socket, heartbeats aside. */
interface Sent {
  frames: number;
  bytes: number;
  /** Offers, answers and candidates: the frames a key seals. */
  relayedFrames: number;
  relayedBytes: number;
}

export interface PrivacyRun {
  mode: Mode;
  round: number;
  /** First joinRoom → last peer-connect, measured in the pages. */
  ms: number;
  /** Each page's selected candidate pair, as "local↔remote" candidate types. */
  paths: string[];
  /** Both pages together. */
  sent: Sent;
}

async function loadCoturn(): Promise<typeof Coturn> {
  const turn = await import("../test/e2e/turn.ts");
  if (!turn.hasCoturn)
    throw new Error(`the privacy part needs coturn at ${turn.TURNSERVER_PATH}: apt-get install coturn`);
  return turn.Coturn;
}

/** The frames a key seals. */
const RELAYED = new Set<unknown>(["offer", "answer", "candidate"]);

function frameType(text: string): unknown {
  try {
    return (JSON.parse(text) as { type?: unknown }).type;
  } catch {
    return undefined;
  }
}

/** A page on the landing page with the library imported, counting what it sends. */
async function openPage(browser: Browser, base: string): Promise<{ page: Page; sent: Sent }> {
  const page = await (await browser.newContext()).newPage();
  const sent: Sent = { frames: 0, bytes: 0, relayedFrames: 0, relayedBytes: 0 };
  page.on("websocket", (socket) => {
    socket.on("framesent", ({ payload }) => {
      // Binary frames are not signaling; the heartbeat is per socket, not per connection.
      if (typeof payload !== "string" || payload === "ping") return;
      const bytes = Buffer.byteLength(payload);
      sent.frames += 1;
      sent.bytes += bytes;
      if (RELAYED.has(frameType(payload))) {
        sent.relayedFrames += 1;
        sent.relayedBytes += bytes;
      }
    });
  });
  await page.addInitScript(RECORD_PEER_CONNECTIONS);
  await page.goto(`${base}/`);
  // A string: this module never imports the library itself.
  await page.evaluate('import("/mesh.js").then((m) => { window.meshLib = m; })');
  return { page, sent };
}

function startJoin(page: Page, room: string, options: { relay?: boolean; key?: string }): Promise<void> {
  return page.evaluate(
    `(() => {
      const room = window.meshLib.joinRoom(${JSON.stringify(room)}, ${JSON.stringify(options)});
      window.pairRoom = room;
      window.pair = { joinedAt: Date.now(), connectedAt: [], errors: [], signaling: "connecting" };
      room.addEventListener("peer-connect", () => window.pair.connectedAt.push(Date.now()));
      room.addEventListener("error", (e) => window.pair.errors.push(e.detail.code + ": " + e.detail.message));
      room.addEventListener("signaling", (e) => { window.pair.signaling = e.detail.state; });
    })()`,
  );
}

/** Waits for the page's peer-connect; a room error (relay-unavailable, say) fails the run at once. */
async function connected(page: Page, room: string): Promise<PairPage> {
  await page
    .waitForFunction(() => window.pair.connectedAt.length > 0 || window.pair.errors.length > 0, null, {
      timeout: CONNECT_WITHIN_MS,
    })
    .catch((error: unknown) => {
      if (!(error instanceof errors.TimeoutError)) throw error;
    });
  const pair = await page.evaluate(() => window.pair);
  if (pair.connectedAt.length === 0) {
    // Where it stuck: each peer connection's connection / ICE / gathering / signaling state.
    const states = await page.evaluate(() =>
      window.pcs.map((pc) =>
        [pc.connectionState, pc.iceConnectionState, pc.iceGatheringState, pc.signalingState].join("/"),
      ),
    );
    throw new Error(
      `privacy: ${room} did not connect within ${CONNECT_WITHIN_MS} ms (signaling ${pair.signaling}; peer connections ${states.join(", ") || "none"}; errors: ${pair.errors.join("; ") || "none"})`,
    );
  }
  return pair;
}

/** "local↔remote" candidate types of each connected peer connection's selected pair. */
async function pathTypes(page: Page): Promise<string[]> {
  return (await selectedPaths(page)).map((path) => `${path.local.type}↔${path.remote.type}`);
}

/**
 * Resolves once both pages have gathered every candidate and sent nothing
 * for QUIET_MS. Gathering alone is not the end: sealing is asynchronous, so
 * the last candidate's frame can leave after it, and nothing in the page
 * says when the library's outbox is empty.
 */
async function signalingDone(pages: Page[], sent: Sent[]): Promise<void> {
  await Promise.all(
    pages.map((page) =>
      page.waitForFunction(() => window.pcs.every((pc) => pc.iceGatheringState === "complete"), null, {
        timeout: GATHERED_WITHIN_MS,
      }),
    ),
  );
  const total = () => sent.reduce((sum, s) => sum + s.frames, 0);
  const deadline = Date.now() + SETTLE_WITHIN_MS;
  let last = total();
  let quietSince = Date.now();
  while (Date.now() < deadline && Date.now() - quietSince < QUIET_MS) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (total() !== last) [last, quietSince] = [total(), Date.now()];
  }
}

function sum(sent: Sent[]): Sent {
  return {
    frames: sent.reduce((n, s) => n + s.frames, 0),
    bytes: sent.reduce((n, s) => n + s.bytes, 0),
    relayedFrames: sent.reduce((n, s) => n + s.relayedFrames, 0),
    relayedBytes: sent.reduce((n, s) => n + s.relayedBytes, 0),
  };
}

/** Opens two pages, then starts both joins at once; the connect time and what the pair sent. */
async function connectOnce(
  browser: Browser,
  base: string,
  mode: Mode,
  room: string,
): Promise<Omit<PrivacyRun, "round">> {
  const setup = SETUPS[mode];
  const opened = await Promise.all([openPage(browser, base), openPage(browser, base)]);
  const pages = opened.map((o) => o.page);
  try {
    // From the library, before the clock starts: an app holds its key before it joins.
    const key = setup.keyed ? String(await pages[0]?.evaluate("window.meshLib.generateKey()")) : undefined;
    const options = { ...(setup.relay ? { relay: true } : {}), ...(key ? { key } : {}) };
    await Promise.all(pages.map((page) => startJoin(page, room, options)));
    const times = await Promise.all(pages.map((page) => connected(page, room)));
    const ms = Math.max(...times.flatMap((t) => t.connectedAt)) - Math.min(...times.map((t) => t.joinedAt));
    const paths = (await Promise.all(pages.map(pathTypes))).flat();
    // Fail loudly rather than report a relay-only figure that did not go through the relay.
    if (setup.relay && (paths.length !== 2 || paths.some((path) => path !== "relay↔relay"))) {
      throw new Error(`privacy: a relay-only pair is not relay to relay: ${paths.join(", ")}`);
    }
    const sent = opened.map((o) => o.sent);
    await signalingDone(pages, sent);
    return { mode, ms, paths, sent: sum(sent) };
  } finally {
    // Leave before closing: a closed context does not release its TURN allocations, and with
    // coturn's 101 relay ports (test/e2e/turn.ts) relay-only joins fail after a dozen rounds.
    await Promise.all(pages.map((page) => page.evaluate("window.pairRoom?.leave()").catch(() => undefined)));
    await Promise.all(pages.map((page) => page.context().close()));
  }
}

export async function measurePrivacy(
  browser: Browser,
  options: { rounds: number },
): Promise<{ runs: PrivacyRun[]; summary: string[] }> {
  const turn = await (await loadCoturn()).start();
  const runs: PrivacyRun[] = [];
  let server: DevServer | undefined;
  try {
    server = await DevServer.start({ vars: { TURN_URLS: turn.url, TURN_SECRET: turn.secret } });
    for (let pass = 0; pass < options.rounds; pass++) {
      for (const mode of MODES) {
        const run = await connectOnce(browser, server.url, mode, `privacy-${mode}-${pass}-${Date.now()}`);
        process.stderr.write(
          `privacy: ${mode} round ${pass + 1}: ${run.ms} ms, ${run.paths.join(" ")}, ${run.sent.bytes} B in ${run.sent.frames} frames\n`,
        );
        runs.push({ ...run, round: pass + 1 });
      }
    }
  } finally {
    await server?.stop();
    await turn.stop();
  }
  return { runs, summary: summarize(runs, options.rounds) };
}

function summarize(runs: PrivacyRun[], rounds: number): string[] {
  const med = (mode: Mode, pick: (run: PrivacyRun) => number) =>
    median(runs.filter((run) => run.mode === mode).map(pick));
  const bytes = (mode: Mode) => med(mode, (r) => r.sent.bytes);
  const perFrame = (mode: Mode) => round(med(mode, (r) => r.sent.bytes / r.sent.frames));
  const perRelayed = (mode: Mode) => round(med(mode, (r) => r.sent.relayedBytes / r.sent.relayedFrames));
  const direct = med("direct", (r) => r.ms);
  const rows = MODES.map((mode) => {
    const ms = med(mode, (r) => r.ms);
    const frames = med(mode, (r) => r.sent.frames);
    return `| ${SETUPS[mode].label} | ${ms} | ${ratio(ms, direct)} | ${bytes(mode)} | ${frames} | ${perFrame(mode)} | ${perRelayed(mode)} |`;
  });
  const growth = (per: (mode: Mode) => number) =>
    `${ratio(per("keyed"), per("direct"))}, +${round(per("keyed") - per("direct"))} B`;
  return [
    `### Private rooms: a pair connecting in Chromium through wrangler dev and a real coturn (first join → last peer-connect, ms; medians of ${rounds} interleaved rounds; relay-only verified relay ↔ relay)`,
    "",
    "| mode | connect ms | vs direct | signaling bytes sent per pair | frames per pair | bytes per frame | bytes per offer, answer or candidate |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    `Keyed / direct signaling bytes per pair: ${ratio(bytes("keyed"), bytes("direct"))}; per frame ${growth(perFrame)}; per offer, answer or candidate ${growth(perRelayed)}. Direct frames per pair vary by round with the candidates Chromium gathers before the pair connects; relay-only pairs send the same frames every round, so (d) / (b) is like for like: ${ratio(bytes("relay-keyed"), bytes("relay"))}, +${bytes("relay-keyed") - bytes("relay")} B per pair.`,
    "",
  ];
}
