/**
 * What a call costs on the platform's meters: billed Durable Object requests
 * and SQL rows written, for an 8-peer mesh formation and for an hour of an
 * idle, hibernating call, next to the no-logic relay Durable Object.
 *
 * Frames are counted in real Chromium pages (every frame each page sends on
 * its signaling socket, by type, plus the upgrades), against real `wrangler
 * dev` servers. Ours runs `/mesh.js` against the room; the baseline is the
 * bare mesh page of bench/bare relayed by bench/relay-worker (which never
 * touches storage: 0 rows). Rows written are not read from the runtime (the
 * benchmark adds nothing to src/): the frame sequence is replayed through the
 * room's write rules (src/relay.ts, src/store.ts, src/room.ts `#settle`) with
 * the rows per message type that test/workerd/room-cost.test.ts measures and
 * asserts inside workerd. Billed requests follow Cloudflare's Durable Objects
 * pricing: one per WebSocket upgrade, incoming WebSocket messages at 20:1,
 * one per alarm invocation.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startBareRelay } from "./bare/relay.ts";
import { median, ratio, round } from "./lib.ts";

/**
 * Rows written per message, as test/workerd/room-cost.test.ts asserts them
 * (counted from every statement's cursor, `rowsWritten`). It does not see
 * `setAlarm`, which is no SQL statement; Cloudflare bills each as one row
 * written (see ALARM_ROWS).
 */
export const ROWS = {
  firstJoin: 4, // "join (first: creates the room)": its tables, the schema version and the peer
  join: 1,
  offer: 0,
  candidateHeld: 2, // the row and its queue index
  candidateDelivered: 0,
  readiness: 1, // "answer (+1 held delivered)" = 2 and "ready (+1 held delivered)" = 2: readiness 1 + 1 per held row taken
  heldTaken: 1,
  doneFirst: 1, // the connected pair
  doneRepeated: 0,
} as const;
/** "Each setAlarm() is billed as a single row written" (Durable Objects pricing, SQLite storage backend, footnote 3). */
export const ALARM_ROWS = 1;
/** "A 20:1 ratio is applied to incoming WebSocket messages" (Durable Objects pricing, footnote 2). */
export const MESSAGES_PER_REQUEST = 20;
/** RESUME_GRACE_SECONDS' default (src/config.ts): how long a candidate may wait for readiness. */
const GRACE_MS = 30_000;
const PEERS = 8;

type Variant = "rendezvous" | "no-logic relay";
type Phase = "formation" | "waiting" | "idle";

/** One frame a page sent, in the order Node saw them (one event loop for every page). */
interface Sent {
  phase: Phase;
  at: number;
  sender: string;
  type: string;
  to?: string;
}

interface Recorder {
  variant: Variant;
  phase: Phase;
  upgrades: number;
  sent: Sent[];
  /** Frames pages received in the idle window, by type (`pong` is the runtime's auto-response). */
  idleReceived: Record<string, number>;
  /** Welcomes in arrival order: the room admits one join at a time, so this is its order. */
  joins: string[];
}

export interface CostRun {
  variant: Variant;
  round: number;
  upgrades: number;
  formation: { frames: Record<string, number>; messages: number; pings: number; billed: number; rows: RowModel };
  idle: {
    seconds: number;
    frames: Record<string, number>;
    pongs: number;
    errors: number;
    messagesPerHour: number;
    billedPerHour: number;
    rowsPerHour: number;
    alarmsPerHour: number;
  };
}

/** Rows written by category, from replaying the frame sequence through the room's write rules. */
export interface RowModel {
  total: number;
  joins: number;
  candidatesHeld: number;
  heldRows: number;
  readiness: number;
  heldTaken: number;
  done: number;
  setAlarm: number;
  deleteAlarm: number;
  /** Candidates still held when the formation went quiet: an alarm fires GRACE_MS later and deletes them. */
  heldAtEnd: number;
}

/** The type of a sent frame: JSON frames by their `type`, the heartbeat as `ping`. */
function classify(payload: string | Buffer): { type: string; to?: string } {
  const text = String(payload);
  if (text === "ping") return { type: "ping" };
  try {
    const frame: { type?: unknown; to?: unknown } = JSON.parse(text);
    return { type: String(frame.type), ...(typeof frame.to === "string" ? { to: frame.to } : {}) };
  } catch {
    return { type: "other" };
  }
}

function watch(page: Page, room: string, recorder: Recorder): void {
  page.on("websocket", (socket) => {
    if (!socket.url().includes(room)) return;
    recorder.upgrades += 1;
    let id = "";
    socket.on("framereceived", ({ payload }) => {
      const text = String(payload);
      if (recorder.phase === "idle") {
        const type = text === "pong" ? "pong" : classify(text).type;
        recorder.idleReceived[type] = (recorder.idleReceived[type] ?? 0) + 1;
      }
      if (id === "" && text.startsWith("{")) {
        const frame: { type?: string; id?: string } = JSON.parse(text);
        if (frame.type === "welcome" && frame.id) {
          id = frame.id;
          recorder.joins.push(id);
        }
      }
    });
    socket.on("framesent", ({ payload }) => {
      recorder.sent.push({ phase: recorder.phase, at: Date.now(), sender: id, ...classify(payload) });
    });
  });
}

function countTypes(sent: Sent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const frame of sent) counts[frame.type] = (counts[frame.type] ?? 0) + 1;
  return counts;
}

/**
 * Replays a formation through the room's write rules: a candidate is held
 * (2 rows) unless its receiver is ready for its sender; `answer` and `ready`
 * mark readiness (1 row) and take the pair's held rows (1 each); a pair's
 * first `done` records it (1 row) after dropping what is still held between
 * them; after every event the one alarm follows the oldest held candidate
 * (`#settle`): each new deadline is a `setAlarm` (1 row), none left a
 * `deleteAlarm`. Pings never reach the object (auto-response).
 */
export function replayRows(joins: string[], sent: Sent[]): RowModel {
  const model: RowModel = {
    total: 0,
    joins: joins.length === 0 ? 0 : ROWS.firstJoin + (joins.length - 1) * ROWS.join,
    candidatesHeld: 0,
    heldRows: 0,
    readiness: 0,
    heldTaken: 0,
    done: 0,
    setAlarm: 0,
    deleteAlarm: 0,
    heldAtEnd: 0,
  };
  const ready = new Set<string>();
  const connected = new Set<string>();
  let held: { receiver: string; sender: string; at: number }[] = [];
  let alarmAt: number | null = null;
  const take = (keep: (hold: { receiver: string; sender: string }) => boolean) => {
    const before = held.length;
    held = held.filter(keep);
    return before - held.length;
  };
  for (const frame of sent) {
    const { sender, to } = frame;
    if (frame.type === "ping" || to === undefined || sender === "") continue;
    if (frame.type === "candidate") {
      if (!ready.has(`${to}\n${sender}`)) {
        held.push({ receiver: to, sender, at: frame.at });
        model.candidatesHeld += 1;
        model.heldRows += ROWS.candidateHeld;
      }
    } else if (frame.type === "answer" || frame.type === "ready") {
      // The sender can now use the receiver's candidates.
      if (!ready.has(`${sender}\n${to}`)) {
        ready.add(`${sender}\n${to}`);
        model.readiness += ROWS.readiness;
      }
      model.heldTaken += ROWS.heldTaken * take((h) => !(h.receiver === sender && h.sender === to));
    } else if (frame.type === "done") {
      model.heldTaken +=
        ROWS.heldTaken *
        take((h) => !((h.receiver === sender && h.sender === to) || (h.receiver === to && h.sender === sender)));
      const pair = [sender, to].sort().join("\n");
      if (!connected.has(pair)) {
        connected.add(pair);
        model.done += ROWS.doneFirst;
      }
    }
    const oldest = held[0];
    const next = oldest === undefined ? null : oldest.at + GRACE_MS;
    if (next !== alarmAt) {
      if (next === null) model.deleteAlarm += 1;
      else model.setAlarm += ALARM_ROWS;
      alarmAt = next;
    }
  }
  model.heldAtEnd = held.length;
  model.total = model.joins + model.heldRows + model.readiness + model.heldTaken + model.done + model.setAlarm;
  return model;
}

/** Opens the pages with the library (ours) or the bare page loaded, nothing joined yet. */
async function openPages(browser: Browser, base: string, variant: Variant, room: string, recorder: Recorder) {
  const contexts = await Promise.all(Array.from({ length: PEERS }, () => browser.newContext()));
  const pages = await Promise.all(contexts.map((context) => context.newPage()));
  for (const page of pages) watch(page, room, recorder);
  await Promise.all(pages.map((page) => page.goto(`${base}/`)));
  if (variant === "rendezvous") {
    await Promise.all(pages.map((page) => page.evaluate('import("/mesh.js").then((m) => { window.meshLib = m; })')));
  }
  return { contexts, pages };
}

/** Starts every join at once; resolves when every page is connected to all others and no frame but a ping went out for 3 s. */
async function form(pages: Page[], variant: Variant, room: string, relay: string, recorder: Recorder): Promise<void> {
  const join =
    variant === "rendezvous"
      ? `(() => {
          const room = window.meshLib.joinRoom(${JSON.stringify(room)});
          window.timing = { joinedAt: Date.now(), connectedAt: [] };
          room.addEventListener("peer-connect", () => window.timing.connectedAt.push(Date.now()));
        })()`
      : `void window.bareJoin(${JSON.stringify(room)}, false, ${JSON.stringify(relay)})`;
  await Promise.all(pages.map((page) => page.evaluate(join)));
  await Promise.all(
    pages.map((page) =>
      page.waitForFunction(
        (n) => {
          const seen = window as unknown as Record<string, { connectedAt: number[] } | undefined>;
          return ((seen.timing ?? seen.bare)?.connectedAt.length ?? 0) >= n;
        },
        PEERS - 1,
        {
          timeout: 60_000,
        },
      ),
    ),
  );
  // Trailing candidates and `done`s: quiet is 3 s without a signaling frame, at most 20 s.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const last = recorder.sent.filter((frame) => frame.type !== "ping").at(-1)?.at ?? 0;
    if (Date.now() - last >= 3_000 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function summarize(recorder: Recorder, round: number, idleSeconds: number): CostRun {
  const formation = recorder.sent.filter((frame) => frame.phase === "formation");
  const idle = recorder.sent.filter((frame) => frame.phase === "idle");
  const frames = countTypes(formation);
  const pings = frames.ping ?? 0;
  const messages = formation.length;
  // The no-logic relay never touches storage (bench/relay-worker/worker.ts): nothing to replay.
  const rows = recorder.variant === "rendezvous" ? replayRows(recorder.joins, formation) : replayRows([], []);
  // A candidate still held after formation: one alarm wakes the room GRACE_MS later (within the hour) and deletes it.
  const alarmsPerHour = rows.heldAtEnd > 0 ? 1 : 0;
  const perHour = 3600 / idleSeconds;
  const idleMessages = idle.length;
  return {
    variant: recorder.variant,
    round,
    upgrades: recorder.upgrades,
    formation: {
      frames,
      messages,
      pings,
      billed: round3(recorder.upgrades + messages / MESSAGES_PER_REQUEST),
      rows,
    },
    idle: {
      seconds: idleSeconds,
      frames: countTypes(idle),
      pongs: recorder.idleReceived.pong ?? 0,
      errors: recorder.idleReceived.error ?? 0,
      messagesPerHour: Math.round(idleMessages * perHour),
      billedPerHour: round3((idleMessages * perHour) / MESSAGES_PER_REQUEST + alarmsPerHour),
      rowsPerHour: alarmsPerHour * rows.heldAtEnd * ROWS.heldTaken,
      alarmsPerHour,
    },
  };
}

const round3 = (value: number) => round(value, 2);

/**
 * Per round: one formation of each variant (alternating which goes first),
 * then both calls sit idle side by side for `idleSeconds`.
 */
export async function measureCost(
  browser: Browser,
  oursUrl: string,
  ceilingUrl: string,
  options: { rounds: number; idleSeconds: number },
): Promise<{ runs: CostRun[]; summary: string[] }> {
  const bare = await startBareRelay();
  const runs: CostRun[] = [];
  try {
    for (let pass = 0; pass < options.rounds; pass++) {
      const order: Variant[] = pass % 2 === 0 ? ["rendezvous", "no-logic relay"] : ["no-logic relay", "rendezvous"];
      const recorders: Recorder[] = [];
      const contexts: BrowserContext[] = [];
      try {
        for (const variant of order) {
          const room = `cost-${variant === "rendezvous" ? "ours" : "relay"}-${pass}-${Date.now().toString(36)}`;
          const recorder: Recorder = {
            variant,
            phase: "formation",
            upgrades: 0,
            sent: [],
            idleReceived: {},
            joins: [],
          };
          recorders.push(recorder);
          const opened = await openPages(
            browser,
            variant === "rendezvous" ? oursUrl : bare.url,
            variant,
            room,
            recorder,
          );
          contexts.push(...opened.contexts);
          await form(opened.pages, variant, room, ceilingUrl, recorder);
          recorder.phase = "waiting";
          process.stderr.write(`cost: ${variant} formed, round ${pass + 1}/${options.rounds}\n`);
        }
        for (const recorder of recorders) recorder.phase = "idle";
        process.stderr.write(`cost: both calls idle for ${options.idleSeconds} s\n`);
        await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000));
        for (const recorder of recorders) recorder.phase = "waiting";
      } finally {
        await Promise.all(contexts.map((context) => context.close()));
      }
      for (const recorder of recorders) runs.push(summarize(recorder, pass, options.idleSeconds));
    }
  } finally {
    await bare.close();
  }
  return { runs, summary: costSummary(runs, options) };
}

function costSummary(runs: CostRun[], options: { rounds: number; idleSeconds: number }): string[] {
  const of = (variant: Variant) => runs.filter((run) => run.variant === variant);
  const med = (variant: Variant, pick: (run: CostRun) => number) => median(of(variant).map(pick));
  const line = (label: string, pick: (run: CostRun) => number) => {
    const ours = med("rendezvous", pick);
    const relay = med("no-logic relay", pick);
    return `| ${label} | ${ours} | ${relay} | ${ratio(ours, relay)} |`;
  };
  const types = [...new Set(runs.flatMap((run) => Object.keys(run.formation.frames)))].sort();
  const rows = (pick: (model: RowModel) => number) => med("rendezvous", (run) => pick(run.formation.rows));
  return [
    `### Cost (${PEERS}-peer mesh formation in Chromium, then both calls idle ${options.idleSeconds} s; medians of ${options.rounds} interleaved rounds)`,
    "",
    "| per call | Rendezvous | no-logic relay DO (bare page) | ours / relay |",
    "| --- | --- | --- | --- |",
    line("formation: upgrades", (r) => r.upgrades),
    line("formation: incoming messages (pings included)", (r) => r.formation.messages),
    line("formation: of which pings (auto-response)", (r) => r.formation.pings),
    line("formation: billed requests (upgrades + messages / 20)", (r) => r.formation.billed),
    line("formation: billed requests, pings not billed", (r) =>
      round3(r.upgrades + (r.formation.messages - r.formation.pings) / MESSAGES_PER_REQUEST),
    ),
    line("formation: SQL rows written (setAlarm included)", (r) => r.formation.rows.total),
    line("idle hour: incoming messages", (r) => r.idle.messagesPerHour),
    line("idle hour: billed requests (pings at 20:1)", (r) => r.idle.billedPerHour),
    line("idle hour: billed requests, pings not billed", (r) => r.idle.alarmsPerHour),
    line("idle hour: alarms", (r) => r.idle.alarmsPerHour),
    line("idle hour: SQL rows written", (r) => r.idle.rowsPerHour),
    "",
    "| frame sent in formation | Rendezvous | no-logic relay DO (bare page) |",
    "| --- | --- | --- |",
    ...types.map(
      (type) =>
        `| ${type} | ${med("rendezvous", (r) => r.formation.frames[type] ?? 0)} | ${med("no-logic relay", (r) => r.formation.frames[type] ?? 0)} |`,
    ),
    "",
    `Rendezvous rows in formation (medians): joins ${rows((m) => m.joins)}, candidates held ${rows((m) => m.candidatesHeld)} (${rows((m) => m.heldRows)} rows), readiness ${rows((m) => m.readiness)}, held rows taken ${rows((m) => m.heldTaken)}, first done per pair ${rows((m) => m.done)}, setAlarm ${rows((m) => m.setAlarm)} (deleteAlarm ${rows((m) => m.deleteAlarm)}, not billed as a row), held at the end ${rows((m) => m.heldAtEnd)}.`,
    `Idle window: pages sent ${JSON.stringify(of("rendezvous").map((r) => r.idle.frames))} (ours) and ${JSON.stringify(of("no-logic relay").map((r) => r.idle.frames))} (relay); ours got ${of("rendezvous").map((r) => r.idle.pongs)} pongs and ${of("rendezvous").map((r) => r.idle.errors)} error frames (a ping that reached the room's handler would be answered with a bad-json error).`,
    "",
  ];
}
