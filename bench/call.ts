/**
 * A 4-peer call in real Chromium with fake camera and microphone, against
 * the real stack (wrangler dev, the room Durable Object, /mesh.js). Three
 * variants per round, interleaved (A B C, then C B A, …), each in a fresh
 * room and fresh browser contexts:
 *
 * - `data`: the 4 pages join with no media (the baseline): mesh formation,
 *   first join → last peer-connect, as bench/mesh.ts measures it;
 * - `capped`: each page opens its camera (asking for 1280×720) and
 *   microphone before the clock starts, then calls joinRoom and addStream at
 *   once, with the library's default options (videoUplink 3 Mbps, so with 3
 *   peers: 1 Mbps per connection and half resolution, see src/client/media.ts);
 * - `uncapped`: the same, but the page's RTCRtpSender.setParameters is
 *   wrapped (an init script) so the caps the library sets never reach the
 *   encoder: maxBitrate is dropped and scaleResolutionDownBy forced to 1, and
 *   Chromium's own bandwidth estimate and per-resolution defaults decide.
 *
 * Per variant: join → first decoded frame (requestVideoFrameCallback on a
 * <video> fed the remote track) of each remote peer, per page; then, after a
 * warm-up, a 20 s window in which the browser's whole process group's CPU is
 * read from /proc (playwright spawns Chromium detached, so every renderer,
 * GPU and utility process is in its group), and each connection's outbound
 * video from getStats (bytes over the window's second half; frame size,
 * encoder target, limitation at its end). Remote video plays in 320 px
 * <video> tiles and remote audio in muted <audio> elements, as an app would.
 */
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import type { Browser, Page } from "playwright-core";
import { RECORD_PEER_CONNECTIONS } from "../test/e2e/peer-connections.ts";
import { median, pause, ratio, round } from "./lib.ts";

type Variant = "data" | "capped" | "uncapped";
const VARIANTS: Variant[] = ["data", "capped", "uncapped"];
const LABELS: Record<Variant, string> = {
  data: "data only, no media (baseline)",
  capped: "call, library caps (default videoUplink 3 Mbps)",
  uncapped: "call, caps stripped",
};

const PEERS = 4;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux, as bench/lib.ts reads it
/** What each page asks its fake camera for; Chromium's fake device gives 640×480 unless asked. */
const CAMERA = { width: 1280, height: 720 };
const FORM_WITHIN_MS = 60_000;
/** From the last page's last first frame (or connection) to the start of the steady window. */
const WARMUP_MS: Record<Variant, number> = { data: 1_000, capped: 3_000, uncapped: 3_000 };
/** The CPU window; the bitrate is read over its second half. */
const WINDOW_MS = 20_000;

/** The slice of /mesh.js the pages use. */
interface BenchRoom extends EventTarget {
  readonly id: string | null;
  addStream(stream: MediaStream, options?: { label?: string }): void;
  leave(): void;
}
interface BenchLibrary {
  joinRoom(room: string, options?: { videoUplink?: number }): BenchRoom;
}

/** What a page records, on `window.callBench`; plain data, read back by the bench. */
interface PageState {
  /** This page's peer id, once welcomed. */
  id: string;
  joinedAt: number;
  connectedAt: number[];
  /** Remote peer id → Date.now() of its peer-connect, its video `track` event, and its first presented frame. */
  connectedBy: Record<string, number>;
  trackAt: Record<string, number>;
  frameAt: Record<string, number>;
  /** Remote peer id → "width×height" of that first frame. */
  frameSize: Record<string, string>;
  camera: { width: number; height: number; frameRate: number } | null;
  /** Per peer connection: when its first offer/answer completed ("stable"), with how many transceivers (media slots); and its negotiations. */
  negotiatedAt: [number, number][];
  negotiations: number[];
  /** Per peer connection: its ICE and connection state changes, [Date.now(), "ice:checking"], in order. */
  transitions: [number, string][][];
  /** Every setParameters call's first encoding, as the library asked for it. */
  capsLog: { at: number; maxBitrate: number | null; scale: number | null }[];
}

declare global {
  interface Window {
    callBench: PageState;
    callBenchLib: BenchLibrary;
    callBenchRoom: BenchRoom;
    callBenchCamera: MediaStream | undefined;
    callBenchSinks: HTMLMediaElement[];
  }
}

/** One connection's video from getStats: what it sends (one stream), and the frames it decoded. */
interface Outbound {
  timestamp: number;
  bytesSent: number;
  framesEncoded: number;
  framesDecoded: number;
  width: number;
  height: number;
  framesPerSecond: number;
  targetBitrate: number;
  limitation: string;
  encoder: string;
  codec: string;
}

/** The caps in force on one video sender at the window's start. */
interface SenderCaps {
  maxBitrate: number | null;
  scale: number | null;
}

export interface CallRun {
  variant: Variant;
  round: number;
  /** First joinRoom → last peer-connect, across pages (bench/mesh.ts's formation). */
  formationMs: number;
  /** Per page and remote peer: that page's joinRoom → the remote's first presented video frame. */
  firstFrameMs: number[];
  /** Per page and remote peer: joinRoom → the remote's video `track` event. */
  trackMs: number[];
  /** Per page and remote peer: its peer-connect (data channel open) → its first presented frame. */
  connectToFrameMs: number[];
  /** Per page and connection: joinRoom → its first offer/answer complete; and the transceivers (media slots) it then had. */
  negotiatedMs: number[];
  slots: number[];
  /** Per page and connection: offers made or answered (initial negotiation included). */
  negotiations: number[];
  /** Per page and connection: "state@ms since that page's join", for a round that stalls. */
  transitions: string[];
  /** First joinRoom → the last first frame of the call, across pages. */
  callFormedMs: number | null;
  /** Per page: its joinRoom → its last setParameters call (the last caps change). */
  capsSettledMs: number[];
  camera: PageState["camera"];
  caps: SenderCaps[];
  windowSeconds: number;
  cpuSeconds: number;
  /** Percent of one core, the whole browser, and divided by the peers. */
  cpuPercent: number;
  cpuPercentPerPeer: number;
  /** Per connection (sender side), over the window's second half; and the first half, for steadiness. */
  kbps: number[];
  kbpsFirstHalf: number[];
  /** Per connection (receiver side): video frames decoded per second over the window's second half. */
  decodedFps: number[];
  /** The size of each first frame received (the encoder's start, set by its bandwidth estimate more than the caps). */
  firstFrameSizes: string[];
  /** Per connection at the window's end. */
  sent: Omit<Outbound, "timestamp" | "bytesSent">[];
  loadAverage: number;
  /** The variant from the joins to the window's end (pages open before and close after, overlapped). */
  seconds: number;
}

/** The page init script: records peer connections and setParameters, and in `uncapped` strips the caps. */
function initScript(uncapped: boolean): string {
  return `${RECORD_PEER_CONNECTIONS}
  window.callBench = { id: "", joinedAt: 0, connectedAt: [], connectedBy: {}, trackAt: {}, frameAt: {}, frameSize: {}, camera: null, negotiatedAt: [], negotiations: [], transitions: [], capsLog: [] };
  const Recorded = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Recorded {
    constructor(...args) {
      super(...args);
      const index = window.callBench.negotiations.push(0) - 1;
      const transitions = [];
      window.callBench.transitions.push(transitions);
      this.addEventListener("iceconnectionstatechange", () => transitions.push([Date.now(), "ice:" + this.iceConnectionState]));
      this.addEventListener("connectionstatechange", () => transitions.push([Date.now(), "pc:" + this.connectionState]));
      this.addEventListener("signalingstatechange", () => {
        if (this.signalingState === "have-local-offer" || this.signalingState === "have-remote-offer") window.callBench.negotiations[index] += 1;
        if (this.signalingState === "stable" && window.callBench.negotiatedAt[index] === undefined) window.callBench.negotiatedAt[index] = [Date.now(), this.getTransceivers().length];
      });
    }
  };
  window.callBenchSinks = [];
  const nativeSetParameters = RTCRtpSender.prototype.setParameters;
  RTCRtpSender.prototype.setParameters = function (parameters, ...rest) {
    const encoding = parameters.encodings && parameters.encodings[0];
    if (encoding) {
      window.callBench.capsLog.push({ at: Date.now(), maxBitrate: encoding.maxBitrate ?? null, scale: encoding.scaleResolutionDownBy ?? null });
      if (${uncapped}) for (const each of parameters.encodings) { delete each.maxBitrate; each.scaleResolutionDownBy = 1; }
    }
    return nativeSetParameters.call(this, parameters, ...rest);
  };`;
}

/** Every process of the benchmark's Chromium is in one process group: playwright spawns it detached. */
function browserGroup(): number {
  const groups = new Set<number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== process.pid) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")[0] ?? "";
      if (/chrom/i.test(command.slice(command.lastIndexOf("/") + 1))) groups.add(Number(fields[2]));
    } catch {
      // The process ended while we looked.
    }
  }
  const [group, ...others] = groups;
  if (group === undefined || others.length > 0) {
    throw new Error(`call: expected one Chromium child of this process, found ${groups.size}`);
  }
  return group;
}

/** CPU ticks (utime + stime) of each live process in a process group. */
function groupTicks(group: number): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === group) ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // The process ended while we looked.
    }
  }
  return ticks;
}

/**
 * CPU seconds the group used between two readings, per process: the last
 * variant's renderers may still be exiting when a window starts, and a
 * process that exits takes its ticks with it, so only processes alive at the
 * end count (from 0 if they started within the window).
 */
function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, end] of after) ticks += end - (before.get(pid) ?? 0);
  return ticks / TICKS_PER_SECOND;
}

async function openPages(browser: Browser, base: string, variant: Variant): Promise<Page[]> {
  return Promise.all(
    Array.from({ length: PEERS }, async () => {
      const context = await browser.newContext();
      await context.addInitScript(initScript(variant === "uncapped"));
      const page = await context.newPage();
      await page.goto(`${base}/`);
      // A string: this module never imports the library itself.
      await page.evaluate('import("/mesh.js").then((m) => { window.callBenchLib = m; })');
      if (variant !== "data") {
        // Before the clock: an app opens the camera (a preview) before it joins.
        await page.evaluate(async (camera) => {
          const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: camera });
          const settings = stream.getVideoTracks()[0]?.getSettings();
          window.callBenchCamera = stream;
          window.callBench.camera = {
            width: settings?.width ?? 0,
            height: settings?.height ?? 0,
            frameRate: settings?.frameRate ?? 0,
          };
        }, CAMERA);
      }
      return page;
    }),
  );
}

/** In the page: joinRoom, then addStream at once; remote video in a <video> tile, remote audio played. */
function startJoin(page: Page, room: string): Promise<void> {
  return page.evaluate((room) => {
    const state = window.callBench;
    state.joinedAt = Date.now();
    const mesh = window.callBenchLib.joinRoom(room);
    window.callBenchRoom = mesh;
    mesh.addEventListener("signaling", () => {
      state.id ||= mesh.id ?? "";
    });
    mesh.addEventListener("peer-connect", (event) => {
      const { peer } = (event as CustomEvent<{ peer: { id: string } }>).detail;
      state.connectedAt.push(Date.now());
      state.connectedBy[peer.id] ??= Date.now();
    });
    mesh.addEventListener("track", (event) => {
      const { from, track } = (event as CustomEvent<{ from: string; track: MediaStreamTrack }>).detail;
      const sink = document.createElement(track.kind === "video" ? "video" : "audio");
      sink.muted = true;
      sink.srcObject = new MediaStream([track]);
      window.callBenchSinks.push(sink);
      if (sink instanceof HTMLVideoElement) {
        state.trackAt[from] = Date.now();
        sink.playsInline = true;
        sink.width = 320;
        document.body.append(sink);
        sink.requestVideoFrameCallback((_now, frame) => {
          state.frameAt[from] ??= Date.now();
          state.frameSize[from] ??= `${frame.width}×${frame.height}`;
        });
      }
      void sink.play();
    });
    const camera = window.callBenchCamera;
    if (camera) mesh.addStream(camera, { label: "camera" });
  }, room);
}

/** Each connected peer connection's outbound video, summed over its senders. */
function outbound(page: Page): Promise<Outbound[]> {
  return page.evaluate(async () => {
    interface Entry {
      type: string;
      kind?: string;
      timestamp: number;
      bytesSent?: number;
      framesEncoded?: number;
      framesDecoded?: number;
      frameWidth?: number;
      frameHeight?: number;
      framesPerSecond?: number;
      targetBitrate?: number;
      qualityLimitationReason?: string;
      encoderImplementation?: string;
      codecId?: string;
      mimeType?: string;
    }
    const connected = window.pcs.filter((pc) => pc.connectionState === "connected");
    return Promise.all(
      connected.map(async (pc) => {
        const stats = await pc.getStats();
        const result = {
          timestamp: 0,
          bytesSent: 0,
          framesEncoded: 0,
          framesDecoded: 0,
          width: 0,
          height: 0,
          framesPerSecond: 0,
          targetBitrate: 0,
          limitation: "",
          encoder: "",
          codec: "",
        };
        stats.forEach((entry: Entry) => {
          if (entry.type === "inbound-rtp" && entry.kind === "video") result.framesDecoded += entry.framesDecoded ?? 0;
          if (entry.type !== "outbound-rtp" || entry.kind !== "video") return;
          result.timestamp = entry.timestamp;
          result.bytesSent += entry.bytesSent ?? 0;
          result.framesEncoded += entry.framesEncoded ?? 0;
          if (!entry.frameWidth) return;
          result.width = entry.frameWidth;
          result.height = entry.frameHeight ?? 0;
          result.framesPerSecond = entry.framesPerSecond ?? 0;
          result.targetBitrate = entry.targetBitrate ?? 0;
          result.limitation = entry.qualityLimitationReason ?? "";
          result.encoder = entry.encoderImplementation ?? "";
          const codec: Entry | undefined = entry.codecId ? stats.get(entry.codecId) : undefined;
          result.codec = codec?.mimeType ?? "";
        });
        return result;
      }),
    );
  });
}

function senderCaps(page: Page): Promise<SenderCaps[]> {
  return page.evaluate(() =>
    window.pcs.flatMap((pc) =>
      pc
        .getSenders()
        .filter((sender) => sender.track?.kind === "video")
        .map((sender) => {
          const encoding = sender.getParameters().encodings[0];
          return { maxBitrate: encoding?.maxBitrate ?? null, scale: encoding?.scaleResolutionDownBy ?? null };
        }),
    ),
  );
}

/** Per second, per connection, between two snapshots (the same connections, in the same order). */
function rates(before: Outbound[], after: Outbound[], pick: (o: Outbound) => number): number[] {
  return after.map((end, i) => {
    const start = before[i];
    if (!start || end.timestamp <= start.timestamp) return Number.NaN;
    return round(((pick(end) - pick(start)) * 1000) / (end.timestamp - start.timestamp));
  });
}

const kilobits = (o: Outbound) => (o.bytesSent * 8) / 1000;

/** Leaves the room in every page, then closes their contexts. */
async function closePages(pages: Page[]): Promise<void> {
  await Promise.all(pages.map((page) => page.evaluate("window.callBenchRoom?.leave()").catch(() => undefined)));
  await Promise.all(pages.map((page) => page.context().close()));
}

/** One variant in pages opened for it (the caller closes them). */
async function runOnce(
  pages: Page[],
  group: number,
  variant: Variant,
  pass: number,
): Promise<Omit<CallRun, "seconds">> {
  const media = variant !== "data";
  const room = `call-${variant}-${pass}-${Date.now()}`;
  await Promise.all(pages.map((page) => startJoin(page, room)));
  await Promise.all(
    pages.map((page) =>
      page.waitForFunction(
        ({ peers, media }) =>
          window.callBench.connectedAt.length >= peers &&
          (!media || Object.keys(window.callBench.frameAt).length >= peers),
        { peers: PEERS - 1, media },
        { timeout: FORM_WITHIN_MS, polling: 100 },
      ),
    ),
  );
  const states = await Promise.all(pages.map((page) => page.evaluate(() => window.callBench)));
  const firstJoin = Math.min(...states.map((s) => s.joinedAt));
  const perRemote = (pick: (s: PageState) => Record<string, number>) =>
    states.flatMap((s) => Object.values(pick(s)).map((at) => at - s.joinedAt));
  const frames = states.flatMap((s) => Object.values(s.frameAt));

  await pause(WARMUP_MS[variant]);
  const caps = (await Promise.all(pages.map(senderCaps))).flat();
  const snapshot = async () => (await Promise.all(pages.map(outbound))).flat();
  const loadAverage = loadavg()[0] ?? 0;
  const cpuBefore = groupTicks(group);
  const started = performance.now();
  const first = await snapshot();
  await pause(Math.max(0, started + WINDOW_MS / 2 - performance.now()));
  const middle = await snapshot();
  await pause(Math.max(0, started + WINDOW_MS - performance.now()));
  const last = await snapshot();
  const windowSeconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuBetween(cpuBefore, groupTicks(group));
  // The log as it stood when the window ended: the caps' last change, whichever variant.
  const logs = await Promise.all(pages.map((page) => page.evaluate(() => window.callBench.capsLog)));
  const cpuPercent = round((cpuSeconds / windowSeconds) * 100);
  return {
    variant,
    round: pass + 1,
    formationMs: Math.max(...states.flatMap((s) => s.connectedAt)) - firstJoin,
    firstFrameMs: perRemote((s) => s.frameAt),
    trackMs: perRemote((s) => s.trackAt),
    connectToFrameMs: states.flatMap((s) =>
      Object.entries(s.frameAt).flatMap(([from, at]) => {
        const connected = s.connectedBy[from];
        return connected === undefined ? [] : [at - connected];
      }),
    ),
    negotiatedMs: states.flatMap((s) => s.negotiatedAt.flatMap((entry) => (entry ? [entry[0] - s.joinedAt] : []))),
    slots: states.flatMap((s) => s.negotiatedAt.flatMap((entry) => (entry ? [entry[1]] : []))),
    negotiations: states.flatMap((s) => s.negotiations),
    transitions: states.flatMap((s) =>
      s.transitions.map((list) => list.map(([at, state]) => `${state}@${at - s.joinedAt}`).join(" ")),
    ),
    callFormedMs: media ? Math.max(...frames) - firstJoin : null,
    capsSettledMs: logs.flatMap((log, i) => {
      const last = log.at(-1);
      const joined = states[i]?.joinedAt;
      return last && joined ? [last.at - joined] : [];
    }),
    camera: states[0]?.camera ?? null,
    caps,
    windowSeconds: round(windowSeconds, 2),
    cpuSeconds: round(cpuSeconds, 2),
    cpuPercent,
    cpuPercentPerPeer: round(cpuPercent / PEERS),
    kbps: media ? rates(middle, last, kilobits) : [],
    kbpsFirstHalf: media ? rates(first, middle, kilobits) : [],
    decodedFps: media ? rates(middle, last, (o) => o.framesDecoded) : [],
    firstFrameSizes: states.flatMap((s) => Object.values(s.frameSize)),
    sent: media ? last.map(({ timestamp: _t, bytesSent: _b, ...rest }) => rest) : [],
    loadAverage: round(loadAverage, 2),
  };
}

/** "640×360 ×10, 320×180 ×2": each value and how often it was seen, the commonest first. */
function count(values: string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([value, n]) => `${value || "?"} ×${n}`)
    .join(", ");
}

const frameSizes = (runs: CallRun[]) => count(runs.flatMap((run) => run.sent.map((s) => `${s.width}×${s.height}`)));
const reasons = (runs: CallRun[]) => count(runs.flatMap((run) => run.sent.map((s) => s.limitation)));

function capsInForce(runs: CallRun[]): string {
  return count(
    runs.flatMap((run) =>
      run.caps.map(
        (caps) =>
          `${caps.maxBitrate === null ? "no maxBitrate" : `${caps.maxBitrate / 1000} kbit/s`}, scale ${caps.scale ?? 1}`,
      ),
    ),
  );
}

export async function measureCall(
  browser: Browser,
  oursUrl: string,
  options: { rounds: number },
): Promise<{ runs: CallRun[]; summary: string[] }> {
  const group = browserGroup();
  // A B C, then C B A: neither call variant always follows the other.
  const plan = Array.from({ length: options.rounds }, (_, pass) =>
    (pass % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()).map((variant) => ({ variant, pass })),
  ).flat();
  const runs: CallRun[] = [];
  // The next variant's pages open while the last one's close, before its clock starts.
  let next = plan[0] ? openPages(browser, oursUrl, plan[0].variant) : null;
  for (const [i, { variant, pass }] of plan.entries()) {
    const pages = await next;
    if (!pages) break;
    const began = performance.now();
    let measured: Omit<CallRun, "seconds">;
    try {
      measured = await runOnce(pages, group, variant, pass);
    } catch (error) {
      await closePages(pages);
      throw error;
    }
    const seconds = round((performance.now() - began) / 1000);
    const following = plan[i + 1];
    next = following ? openPages(browser, oursUrl, following.variant) : null;
    await closePages(pages);
    const run: CallRun = { ...measured, seconds };
    process.stderr.write(
      `call: ${variant} round ${pass + 1}: formation ${run.formationMs} ms, first frames median ${median(run.firstFrameMs)} ms, ` +
        `CPU ${run.cpuPercent}% (${run.cpuPercentPerPeer}%/peer), video ${median(run.kbps)} kbit/s per connection, ${frameSizes([run])}, load ${run.loadAverage}, ${run.seconds} s\n`,
    );
    runs.push(run);
  }
  return { runs, summary: summarize(runs, options.rounds) };
}

function summarize(runs: CallRun[], rounds: number): string[] {
  const of = (variant: Variant) => runs.filter((run) => run.variant === variant);
  const all = (variant: Variant, pick: (run: CallRun) => number[]) => of(variant).flatMap(pick);
  const each = (variant: Variant, pick: (run: CallRun) => number | null) =>
    of(variant).flatMap((run) => {
      const value = pick(run);
      return value === null ? [] : [value];
    });
  const max = (values: number[]) => (values.length > 0 ? Math.max(...values) : Number.NaN);
  const formation = median(each("data", (r) => r.formationMs));
  const cpu = (variant: Variant) => median(each(variant, (r) => r.cpuPercentPerPeer));
  const kbps = (variant: Variant) => median(all(variant, (r) => r.kbps));
  const camera = runs.find((run) => run.camera)?.camera;
  const targetKbps = (variant: Variant) =>
    median(of(variant).flatMap((r) => r.sent.map((s) => round(s.targetBitrate / 1000))));
  const settled = all("capped", (r) => r.capsSettledMs);
  const firstSizes = count(of("capped").flatMap((r) => r.firstFrameSizes));
  const frameRows = (["capped", "uncapped"] as const).flatMap((variant) => {
    const first = all(variant, (r) => r.firstFrameMs);
    const tracks = all(variant, (r) => r.trackMs);
    const negotiated = all(variant, (r) => r.negotiatedMs);
    const media = all(variant, (r) => r.connectToFrameMs);
    const formed = each(variant, (r) => r.callFormedMs);
    const connected = each(variant, (r) => r.formationMs);
    return [
      `| ${LABELS[variant]}: first join → last peer-connect (per round) | ${median(connected)} | ${max(connected)} | ${ratio(median(connected), formation)} |`,
      `| ${LABELS[variant]}: each page's join → first offer/answer complete on each connection | ${median(negotiated)} | ${max(negotiated)} | ${ratio(median(negotiated), formation)} |`,
      `| ${LABELS[variant]}: each page's join → video track event of each remote | ${median(tracks)} | ${max(tracks)} | ${ratio(median(tracks), formation)} |`,
      `| ${LABELS[variant]}: each page's join → first frame of each remote (${first.length} samples) | ${median(first)} | ${max(first)} | ${ratio(median(first), formation)} |`,
      `| ${LABELS[variant]}: each page's peer-connect of a remote → that remote's first frame | ${median(media)} | ${max(media)} | |`,
      `| ${LABELS[variant]}: first join → last first frame in the call (per round) | ${median(formed)} | ${max(formed)} | ${ratio(median(formed), formation)} |`,
    ];
  });
  const data = each("data", (r) => r.formationMs);
  return [
    `### Calls: 4 Chromium pages with fake camera (asked for ${CAMERA.width}×${CAMERA.height}, got ${camera ? `${camera.width}×${camera.height} at ${camera.frameRate} fps` : "?"}) and microphone (medians of ${rounds} interleaved rounds)`,
    "",
    "| time to first decoded remote frame | median ms | max ms | vs data-only formation |",
    "| --- | --- | --- | --- |",
    `| ${LABELS.data}: first join → last peer-connect (per round) | ${formation} | ${max(data)} | 1× |`,
    `| ${LABELS.data}: each page's join → first offer/answer complete on each connection | ${median(all("data", (r) => r.negotiatedMs))} | ${max(all("data", (r) => r.negotiatedMs))} | |`,
    ...frameRows,
    "",
    `| variant | browser CPU, % of one core (${WINDOW_MS / 1000} s window) | per peer | per peer vs data only |`,
    "| --- | --- | --- | --- |",
    ...VARIANTS.map(
      (variant) =>
        `| ${LABELS[variant]} | ${median(each(variant, (r) => r.cpuPercent))} | ${cpu(variant)} | ${ratio(cpu(variant), cpu("data"))} |`,
    ),
    "",
    `| variant | video kbit/s sent per connection, median (min–max; last ${WINDOW_MS / 2000} s of the window) | encoder target kbit/s, median | frame size sent | sent fps, median | decoded fps per connection, median | limited by | caps on the senders at the window's start |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...(["capped", "uncapped"] as const).map((variant) => {
      const values = all(variant, (r) => r.kbps);
      const sent = of(variant).flatMap((r) => r.sent);
      const fps = median(sent.map((s) => s.framesPerSecond));
      const target = targetKbps(variant);
      return `| ${LABELS[variant]} | ${kbps(variant)} (${Math.min(...values)}–${max(values)}) | ${target} | ${frameSizes(of(variant))} | ${fps} | ${median(all(variant, (r) => r.decodedFps))} | ${reasons(of(variant))} | ${capsInForce(of(variant))} |`;
    }),
    "",
    `Capped / uncapped, per connection: video bytes sent ${ratio(kbps("capped"), kbps("uncapped"))}, encoder target ${ratio(targetKbps("capped"), targetKbps("uncapped"))}; CPU per peer ${ratio(cpu("capped"), cpu("uncapped"))}.`,
    "",
    `Offer/answer rounds per connection, the first included (median, max): ${VARIANTS.map((variant) => `${variant} ${median(all(variant, (r) => r.negotiations))}, ${max(all(variant, (r) => r.negotiations))}`).join("; ")}. Transceivers (media slots) once the first offer/answer completed: ${VARIANTS.map((variant) => `${variant} ${count(all(variant, (r) => r.slots).map(String))}`).join("; ")}.`,
    "",
    `Caps (capped call): each page's last caps change came ${median(settled)} ms after its join (max ${max(settled)}); the caps on every sender at each window's start are in the table above. Sizes of the first frames received (the encoder starts small while its bandwidth estimate ramps up): ${firstSizes}.`,
    "",
  ];
}
