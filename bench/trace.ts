/**
 * A timeline of mesh formation, recorded in the pages. `installTrace` runs in
 * every page before its own scripts (an init script) and wraps `WebSocket`
 * and `RTCPeerConnection`, so neither the library nor the bare page changes:
 * each JSON frame sent and delivered (type and counterpart), each peer
 * connection's `connectionState`, each data channel opening. Times are
 * `performance.timeOrigin + performance.now()`, one clock for every page of
 * the browser. The bench adds `join` and `connect` events itself. `analyse`
 * turns the pages' traces into the figures of one round and a compact text
 * timeline per page.
 */
import { median, round } from "./lib.ts";

export interface TraceEvent {
  t: number;
  /** join, ws, ws-open, send, recv, pc, open, connect */
  k: string;
  /** The frame's type (a null candidate is `end-of-candidates`), the pc's state, or the channel's label. */
  type?: string;
  /** The other peer's id: `to` of a frame sent, `from` (or the peer joined) of one received. */
  peer?: string;
  /** Which of the page's peer connections, in order of creation. */
  pc?: number;
}

export interface PageTrace {
  /** This page's peer id, from its welcome. */
  self: string | null;
  events: TraceEvent[];
  /** Peer connection → the peer it talks to, known from the ICE ufrag of the description sent. */
  pcPeer: Record<number, string>;
}

declare global {
  interface Window {
    meshTrace?: PageTrace;
  }
}

/** Runs in the page (serialized by Playwright): everything it uses is inside. */
export function installTrace(): void {
  const now = () => performance.timeOrigin + performance.now();
  const trace: PageTrace = { self: null, events: [], pcPeer: {} };
  window.meshTrace = trace;
  const pcs: RTCPeerConnection[] = [];
  const ufrag = (sdp: unknown) => (typeof sdp === "string" ? /a=ice-ufrag:(\S+)/.exec(sdp)?.[1] : undefined);
  const parse = (data: unknown): Record<string, unknown> | null => {
    if (typeof data !== "string" || data === "ping" || data === "pong") return null;
    try {
      const frame: unknown = JSON.parse(data);
      return typeof frame === "object" && frame !== null && "type" in frame ? (frame as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };
  const typeOf = (frame: Record<string, unknown>) =>
    frame.type === "candidate" && frame.candidate === null ? "end-of-candidates" : String(frame.type);
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class TracedWebSocket extends NativeWebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      trace.events.push({ t: now(), k: "ws" });
      this.addEventListener("open", () => trace.events.push({ t: now(), k: "ws-open" }));
      this.addEventListener("message", (event) => {
        const t = now();
        const frame = parse(event.data);
        if (!frame) return;
        if (frame.type === "welcome" && typeof frame.id === "string") trace.self = frame.id;
        const joined = frame.peer as { id?: unknown } | undefined;
        const peer = frame.from ?? joined?.id ?? (frame.type === "joined" ? frame.id : undefined);
        trace.events.push({ t, k: "recv", type: typeOf(frame), ...(typeof peer === "string" ? { peer } : {}) });
      });
    }

    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      const frame = parse(data);
      if (frame) {
        const to = typeof frame.to === "string" ? frame.to : undefined;
        const sent = ufrag(frame.sdp);
        if (to && sent) {
          const index = pcs.findIndex((pc) => ufrag(pc.localDescription?.sdp) === sent);
          if (index >= 0) trace.pcPeer[index] = to;
        }
        trace.events.push({ t: now(), k: "send", type: typeOf(frame), ...(to ? { peer: to } : {}) });
      }
      super.send(data);
    }
  };
  const watch = (channel: RTCDataChannel, pc: number) =>
    channel.addEventListener("open", () => trace.events.push({ t: now(), k: "open", pc, type: channel.label }));
  const NativePeerConnection = window.RTCPeerConnection;
  window.RTCPeerConnection = class TracedPeerConnection extends NativePeerConnection {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      const pc = pcs.push(this) - 1;
      trace.events.push({ t: now(), k: "pc", pc, type: "new" });
      this.addEventListener("connectionstatechange", () =>
        trace.events.push({ t: now(), k: "pc", pc, type: this.connectionState }),
      );
      this.addEventListener("datachannel", ({ channel }) => watch(channel, pc));
    }

    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      const channel = super.createDataChannel(label, init);
      watch(channel, pcs.indexOf(this));
      return channel;
    }
  };
}

/** One round's timeline, in ms after `t0` (the first join, or the warm room's newcomer's join). */
export interface Timeline {
  /** The last page to start its join (the bench starts them all at once). */
  lastJoin: number;
  /** The last signaling socket open, and the last `welcome` delivered. */
  lastSocketOpen: number;
  lastWelcome: number;
  /** The last offer, and the last answer, delivered to its peer. */
  lastOffer: number;
  lastAnswer: number;
  /** The last frame of any kind delivered up to the last connection. */
  lastFrame: number;
  /** The longest gap between two frames delivered to anyone, from the first delivery to the last connection. */
  longestSilence: number;
  longestSilenceAt: number;
  /** The longest time during which an offer or answer was in flight and nothing was delivered to anyone. */
  longestStall: number;
  longestStallAt: number;
  /** Offer and answer frames: sent → delivered. */
  descriptionRelayP50: number;
  descriptionRelayMax: number;
  /** Candidate frames: sent → delivered (Rendezvous holds them until the receiver is ready, by design). */
  candidateRelayP50: number;
  candidateRelayMax: number;
  /** Peer connections `connected`, data channels open, and the page's own "connected" (peer-connect). */
  lastPcConnected: number;
  lastChannelOpen: number;
  lastConnection: number;
  framesDelivered: number;
  framesSent: number;
}

const RELAYED = new Set(["offer", "answer", "candidate", "end-of-candidates"]);

/** Longest piece of `spans` (merged) not cut by any of `cuts` (sorted). */
function longestUncut(spans: [number, number][], cuts: number[]): { ms: number; at: number } {
  const merged: [number, number][] = [];
  for (const [a, b] of [...spans].sort((x, y) => x[0] - y[0])) {
    const last = merged.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  let best = { ms: 0, at: Number.NaN };
  for (const [a, b] of merged) {
    let from = a;
    for (const cut of [...cuts.filter((c) => c > a && c < b), b]) {
      if (cut - from > best.ms) best = { ms: cut - from, at: from };
      from = cut;
    }
  }
  return best;
}

const max = (values: number[]) => (values.length ? Math.max(...values) : Number.NaN);

/** The round's figures, and each page's events as text: `ms what`, `k` being another page's index. */
export function analyse(traces: PageTrace[], t0: number): { timeline: Timeline; pages: string[] } {
  const pageOf = new Map(traces.map((trace, index) => [trace.self, index]));
  const who = (id: string | undefined) => (id === undefined ? "" : String(pageOf.get(id) ?? "?"));
  const deliveries: number[] = [];
  const sends = new Map<string, number[]>();
  const receipts = new Map<string, number[]>();
  const at = (kind: string, type?: string) =>
    traces.flatMap((trace) =>
      trace.events.filter((e) => e.t >= t0 && e.k === kind && (type === undefined || e.type === type)),
    );
  const pages = traces.map((trace, page) => {
    const items: string[] = [];
    let batch = null as { key: string; count: number; index: number; ms: number } | null;
    for (const event of trace.events) {
      if (event.t < t0) continue;
      const ms = round(event.t - t0);
      const relayed = event.type !== undefined && RELAYED.has(event.type);
      if ((event.k === "send" || event.k === "recv") && relayed && event.peer !== undefined) {
        // Matched in order per (sender, receiver, kind): the n-th sent is the n-th delivered.
        const kind = event.type === "offer" || event.type === "answer" ? event.type : "candidate";
        const other = who(event.peer);
        const key = event.k === "send" ? `${page}>${other}:${kind}` : `${other}>${page}:${kind}`;
        const list = (event.k === "send" ? sends : receipts).get(key) ?? [];
        list.push(event.t - t0);
        (event.k === "send" ? sends : receipts).set(key, list);
      }
      if (event.k === "recv") deliveries.push(event.t - t0);
      let text: string;
      if (event.k === "send") text = `${event.type}>${who(event.peer)}`;
      else if (event.k === "recv") text = `${event.type}<${who(event.peer)}`;
      else if (event.k === "pc") text = `pc${who(trace.pcPeer[event.pc ?? -1]) || `#${event.pc}`} ${event.type}`;
      else if (event.k === "open") text = `open${who(trace.pcPeer[event.pc ?? -1]) || `#${event.pc}`} ${event.type}`;
      else if (event.k === "connect") text = `connect${who(event.peer)}`;
      else text = event.k;
      // Candidates to or from one peer in a row are one batch: `candidate*3>5`.
      const batchKey = event.type === "candidate" ? text : null;
      if (batchKey && batch?.key === batchKey) {
        batch.count += 1;
        items[batch.index] = `${batch.ms} ${text.replace("candidate", `candidate*${batch.count}`)}`;
        continue;
      }
      batch = batchKey ? { key: batchKey, count: 1, index: items.length, ms } : null;
      items.push(`${ms} ${text}`);
    }
    return items.join(", ");
  });
  const lastConnection = max(at("connect").map((e) => e.t - t0));
  const delays = { description: [] as number[], candidate: [] as number[] };
  const inFlight: [number, number][] = [];
  for (const [key, sent] of sends) {
    const got = receipts.get(key) ?? [];
    const isDescription = !key.endsWith(":candidate");
    sent.forEach((time, n) => {
      const delivered = got[n];
      if (delivered !== undefined) (isDescription ? delays.description : delays.candidate).push(delivered - time);
      if (isDescription) inFlight.push([time, delivered ?? lastConnection]);
    });
  }
  const sorted = deliveries.filter((t) => t <= lastConnection).sort((a, b) => a - b);
  let silence = { ms: 0, at: Number.NaN };
  sorted.reduce((previous, time) => {
    if (time - previous > silence.ms) silence = { ms: time - previous, at: previous };
    return time;
  }, sorted[0] ?? 0);
  const stall = longestUncut(inFlight, sorted);
  const last = (kind: string, type?: string) => round(max(at(kind, type).map((e) => e.t - t0)));
  const timeline: Timeline = {
    lastJoin: last("join"),
    lastSocketOpen: last("ws-open"),
    lastWelcome: last("recv", "welcome"),
    lastOffer: last("recv", "offer"),
    lastAnswer: last("recv", "answer"),
    lastFrame: round(max(sorted)),
    longestSilence: round(silence.ms),
    longestSilenceAt: round(silence.at),
    longestStall: round(stall.ms),
    longestStallAt: round(stall.at),
    descriptionRelayP50: round(median(delays.description)),
    descriptionRelayMax: round(max(delays.description)),
    candidateRelayP50: round(median(delays.candidate)),
    candidateRelayMax: round(max(delays.candidate)),
    lastPcConnected: last("pc", "connected"),
    lastChannelOpen: last("open"),
    lastConnection: round(lastConnection),
    framesDelivered: deliveries.length,
    framesSent: at("send").length,
  };
  return { timeline, pages };
}
