/**
 * Signaling under load: R rooms × P peers over `ws`, every peer sending
 * realistic frames (≈3 KB offers, ≈200 B candidates) to the peers of its
 * room, at a fixed offered rate and then unthrottled. Every message must
 * arrive exactly once, at the right peer, from the right sender: any loss or
 * misdelivery fails the run. The same generator drives three servers through
 * one adapter each: Rendezvous, the no-logic relay Durable Object (the
 * runtime's ceiling), and the PeerJS server.
 */
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { pause, percentile, round, watchGroup } from "./lib.ts";

export interface Target {
  name: string;
  /** Process group of the server, for CPU and memory. */
  group: number;
  url(room: string, peer: number): string;
  /** Reads a frame: a welcome (own id and the room's peers so far), a join, a relayed message, or else. */
  read(frame: string): Incoming;
  /** A relayed message to `to`, carrying `mark` in its payload, padded to about `bytes`. */
  message(to: string, kind: "offer" | "candidate", mark: string, bytes: number): string;
  /** Frames that make the room pass candidates between these peers (Rendezvous: `ready`). */
  prepare(others: string[]): string[];
  /** A frame the server answers once it has handled everything before it, and how to know the answer. */
  barrier?: { frame: string; isReply(frame: string): boolean };
  /** For servers without rooms: the id a peer takes and the roommates it has. */
  identity?(room: string, peer: number, peersPerRoom: number): { id: string; peers: string[] };
}

export type Incoming =
  | { kind: "welcome"; id: string; peers: string[] }
  | { kind: "joined"; id: string }
  | { kind: "relayed"; from: string; mark: string }
  | { kind: "other" };

interface Peer {
  socket: WebSocket;
  id: string;
  known: Set<string>;
}

export interface LoadOptions {
  rooms: number;
  peersPerRoom: number;
  /** Messages in the fixed-rate phase, offered at `rate` per second overall. */
  paced: number;
  rate: number;
  /** Messages in the unthrottled phase. */
  burst: number;
}

export interface LoadResult {
  target: string;
  joinsPerSecond: number;
  joinP50: number;
  joinP99: number;
  paced: PhaseResult;
  unthrottled: PhaseResult;
}

export interface PhaseResult {
  messages: number;
  msgsPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  cpuSeconds: number;
  cpuMsPerMessage: number;
  rssMiB: number;
}

const MARK = /#m(\d+)#/;

/** One full run against a target: joins, then a paced and an unthrottled phase. */
export async function runLoad(target: Target, options: LoadOptions, tag: string): Promise<LoadResult> {
  const joins = await joinAll(target, options, tag);
  try {
    await prepare(target, joins.peers);
    const paced = await phase(target, joins.peers, options.paced, options.rate);
    const unthrottled = await phase(target, joins.peers, options.burst, Number.POSITIVE_INFINITY);
    return {
      target: target.name,
      joinsPerSecond: round(joins.peers.length / (joins.seconds || Number.EPSILON)),
      joinP50: round(percentile(joins.latencies, 50), 2),
      joinP99: round(percentile(joins.latencies, 99), 2),
      paced,
      unthrottled,
    };
  } finally {
    for (const peer of joins.peers) peer.socket.terminate();
  }
}

/** Opens every socket at once; resolves when every peer knows every other peer of its room. */
export async function joinAll(
  target: Target,
  options: Pick<LoadOptions, "rooms" | "peersPerRoom">,
  tag: string,
): Promise<{ peers: Peer[]; latencies: number[]; seconds: number }> {
  const started = performance.now();
  const latencies: number[] = [];
  const peers = await Promise.all(
    Array.from({ length: options.rooms * options.peersPerRoom }, (_, i) => {
      const room = Math.floor(i / options.peersPerRoom);
      return connect(target, `${tag}-${room}`, i % options.peersPerRoom, options.peersPerRoom, latencies);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const deadline = Date.now() + 30_000;
  while (peers.some((peer) => peer.known.size < options.peersPerRoom - 1)) {
    if (Date.now() > deadline) throw new Error(`${target.name}: rosters incomplete after 30 s`);
    await pause(10);
  }
  return { peers, latencies, seconds };
}

function connect(target: Target, room: string, index: number, size: number, latencies: number[]): Promise<Peer> {
  const opened = performance.now();
  const socket = new WebSocket(target.url(room, index));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${target.name}: no welcome within 30 s`)), 30_000);
    socket.once("error", reject);
    socket.on("message", function first(data) {
      const incoming = target.read(String(data));
      if (incoming.kind !== "welcome") return;
      socket.off("message", first);
      clearTimeout(timer);
      latencies.push(performance.now() - opened);
      const { id, peers } = target.identity?.(room, index, size) ?? incoming;
      const peer: Peer = { socket, id, known: new Set(peers) };
      socket.on("message", (frame) => {
        const next = target.read(String(frame));
        if (next.kind === "joined") peer.known.add(next.id);
      });
      resolve(peer);
    });
  });
}

/** Makes every pair pass candidates, and waits until the server has handled all of it. */
async function prepare(target: Target, peers: Peer[]): Promise<void> {
  const barrier = target.barrier;
  if (!barrier) return;
  await Promise.all(
    peers.map(
      (peer) =>
        new Promise<void>((resolve) => {
          const listener = (data: WebSocket.RawData) => {
            if (!barrier.isReply(String(data))) return;
            peer.socket.off("message", listener);
            resolve();
          };
          peer.socket.on("message", listener);
          for (const frame of target.prepare([...peer.known])) peer.socket.send(frame);
          peer.socket.send(barrier.frame);
        }),
    ),
  );
}

/** Sends `count` messages round-robin at `rate` per second (Infinity: as fast as possible). */
async function phase(target: Target, peers: Peer[], count: number, rate: number): Promise<PhaseResult> {
  const expected = new Map<string, { to: string; from: string; sentAt: number }>();
  const latencies: number[] = [];
  const problems: string[] = [];
  let received = 0;
  let firstSent = 0;
  let lastReceived = 0;
  const listeners = peers.map((peer) => {
    const listener = (data: WebSocket.RawData) => {
      const incoming = target.read(String(data));
      if (incoming.kind !== "relayed") return;
      const sent = expected.get(incoming.mark);
      if (!sent) problems.push(`${target.name}: unexpected or duplicate message ${incoming.mark}`);
      else if (sent.to !== peer.id || sent.from !== incoming.from)
        problems.push(`${target.name}: misdelivered ${incoming.mark}`);
      else {
        expected.delete(incoming.mark);
        lastReceived = performance.now();
        latencies.push(lastReceived - sent.sentAt);
        received += 1;
      }
    };
    peer.socket.on("message", listener);
    return { peer, listener };
  });

  const usage = await watchGroup(target.group, async () => {
    firstSent = performance.now();
    for (let n = 0; n < count; n++) {
      const sender = peers[n % peers.length];
      if (!sender) break;
      const roommates = [...sender.known];
      const to = roommates[Math.floor(n / peers.length) % roommates.length] ?? "";
      const kind = n % 10 === 0 ? "offer" : "candidate"; // one offer or answer for nine candidates
      const mark = `#m${n}#`;
      expected.set(mark, { to, from: sender.id, sentAt: performance.now() });
      sender.socket.send(target.message(to, kind, mark, kind === "offer" ? 3_000 : 200));
      if (Number.isFinite(rate)) {
        const due = firstSent + ((n + 1) * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await pause(wait);
      } else if (n % 200 === 199) {
        await new Promise<void>((resolve) => setImmediate(resolve)); // let replies in
      }
    }
    const deadline = Date.now() + 60_000;
    while (received < count && problems.length === 0 && Date.now() < deadline) await pause(5);
  });
  for (const { peer, listener } of listeners) peer.socket.off("message", listener);
  if (problems.length > 0) throw new Error(problems.slice(0, 5).join("\n"));
  if (received < count) throw new Error(`${target.name}: ${count - received} of ${count} messages lost`);

  const seconds = (lastReceived - firstSent) / 1000;
  return {
    messages: count,
    msgsPerSecond: round(count / seconds),
    p50: round(percentile(latencies, 50), 2),
    p95: round(percentile(latencies, 95), 2),
    p99: round(percentile(latencies, 99), 2),
    cpuSeconds: round(usage.cpuSeconds, 2),
    cpuMsPerMessage: round((usage.cpuSeconds * 1000) / count, 3),
    rssMiB: round(usage.rssBytes / 1024 / 1024),
  };
}

/** Pads a marked payload to about `bytes`. */
function padded(mark: string, bytes: number): string {
  return mark + "x".repeat(Math.max(0, bytes - mark.length));
}

function markOf(text: unknown): string {
  return typeof text === "string" ? (MARK.exec(text)?.[0] ?? "") : "";
}

/** Rendezvous and the ceiling share a wire shape; only Rendezvous needs `ready` for candidates to pass. */
export function rendezvousTarget(name: string, base: string, group: number, needsReady: boolean): Target {
  return {
    name,
    group,
    url: (room) => `${base.replace(/^http/, "ws")}/r/${room}/ws`,
    read(frame) {
      const message = JSON.parse(frame);
      if (message.type === "welcome") {
        return { kind: "welcome", id: message.id, peers: message.peers.map((p: { id: string }) => p.id) };
      }
      if (message.type === "peer-joined") return { kind: "joined", id: message.peer.id };
      if (message.type === "offer") return { kind: "relayed", from: message.from, mark: markOf(message.sdp) };
      if (message.type === "candidate") {
        return { kind: "relayed", from: message.from, mark: markOf(message.candidate?.candidate) };
      }
      return { kind: "other" };
    },
    message(to, kind, mark, bytes) {
      const body = padded(mark, bytes);
      return kind === "offer"
        ? JSON.stringify({ type: "offer", to, sdp: body })
        : JSON.stringify({ type: "candidate", to, candidate: { candidate: body, sdpMid: "0", sdpMLineIndex: 0 } });
    },
    prepare: (others) => (needsReady ? others.map((to) => JSON.stringify({ type: "ready", to })) : []),
    // `done` to an id no peer has: Rendezvous answers unknown-peer after everything sent before it.
    ...(needsReady && {
      barrier: {
        frame: JSON.stringify({ type: "done", to: "~barrier" }),
        isReply: (frame: string) => frame.includes('"unknown-peer"'),
      },
    }),
  };
}

/** The PeerJS server: ids are chosen by clients; there are no rooms, so the generator knows its roommates. */
export function peerjsTarget(port: number, group: number): Target {
  return {
    name: "PeerJS server",
    group,
    url: (room, peer) => `ws://127.0.0.1:${port}/peerjs?key=peerjs&id=${room}-${peer}&token=t${peer}`,
    read(frame) {
      const message = JSON.parse(frame);
      if (message.type === "OPEN") return { kind: "welcome", id: "", peers: [] };
      if (message.type === "OFFER") return { kind: "relayed", from: message.src, mark: markOf(message.payload?.sdp) };
      if (message.type === "CANDIDATE") {
        return { kind: "relayed", from: message.src, mark: markOf(message.payload?.candidate?.candidate) };
      }
      return { kind: "other" };
    },
    message(to, kind, mark, bytes) {
      const body = padded(mark, bytes);
      return kind === "offer"
        ? JSON.stringify({ type: "OFFER", dst: to, payload: { sdp: body, type: "offer" } })
        : JSON.stringify({ type: "CANDIDATE", dst: to, payload: { candidate: { candidate: body, sdpMid: "0" } } });
    },
    prepare: () => [],
    // PeerJS answers a connection with OPEN and nothing about others: ids are ours to choose.
    identity: (room, peer, size) => ({
      id: `${room}-${peer}`,
      peers: Array.from({ length: size }, (_, i) => `${room}-${i}`).filter((_, i) => i !== peer),
    }),
  };
}
