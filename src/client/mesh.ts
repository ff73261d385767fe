/**
 * `/mesh.js`: turns a room name into a full mesh of WebRTC peers over
 * Rendezvous signaling.
 *
 *   const room = joinRoom("abc", { name: "Ann" });
 *   room.addEventListener("message", (e) => console.log(e.detail.from, e.detail.data));
 *   room.send({ hello: "world" });
 *
 * Signaling drops never drop the mesh: established connections keep working
 * while the socket reconnects and resumes, and unfinished negotiations are
 * re-sent once it is back.
 *
 * Privacy: with `key`, the server relays only ciphertext between peers; with
 * `relay`, this peer sends nobody any address but its TURN relay's.
 *
 * Calls: `addStream` publishes a MediaStream to every peer, now and later;
 * remote tracks arrive as `track` events (src/client/media.ts has how).
 */
import * as v from "valibot";
import { type IceServer, PeerControl, type PeerInfo, ROOM_NAME } from "../protocol";
import { type CodecFactory, plaintext, sealed } from "./codec";
import { sweep } from "./disk";
import { TypedEventTarget } from "./events";
import { type Inbox, type Incoming, RESUME_MS, receiveFile, sendFile, type Transfer } from "./files";
import { canRelay } from "./ice";
import { parseJson } from "./json";
import { Link, type LinkState } from "./link";
import { MediaLink, type Publication, SLOTS, videoCaps } from "./media";
import { generateKey } from "./seal";
import { type RoomFrame, Signaling, type SignalingState, type Welcome } from "./signaling";

export type { SignalingState, Transfer };
export { generateKey };
export type PeerState = LinkState;

export interface Peer {
  readonly id: string;
  readonly name: string | null;
  state: PeerState;
}

export interface JoinOptions {
  /** Display name shown to the others; anonymous when absent. */
  name?: string;
  /** Base URL of the Rendezvous server; defaults to this page's origin. */
  server?: string;
  /** Overrides the ICE servers the room hands out. */
  iceServers?: RTCIceServer[];
  /** Connect through TURN only, so no peer learns this device's addresses. */
  relay?: boolean;
  /** The room key (from `generateKey()`): every payload between peers is end-to-end encrypted. */
  key?: string;
  /** Largest file accepted, in bytes, as its sender declares it (default 4 GiB); a larger one is refused unread. */
  maxFileSize?: number;
  /** This peer's uplink for video, in bits/s, shared among the peers it sends to (default 3,000,000). */
  videoUplink?: number;
  /** For tests: how long a connection may be down before it has failed and is made anew (default 30,000 ms). */
  giveUpMs?: number;
}

/** Renew TURN credentials when this much of their lifetime has passed. */
const RENEW_AT = 0.75;
/** The longest delay setTimeout keeps (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const NEVER = Number.POSITIVE_INFINITY;

/** The events a room dispatches, each a CustomEvent with this `detail`. */
export interface MeshRoomEvents {
  "peer-join": { peer: Readonly<Peer> };
  "peer-state": { peer: Readonly<Peer> };
  /** The peer's data channel is open. */
  "peer-connect": { peer: Readonly<Peer> };
  /** The peer is gone, and removed from `room.peers`. */
  "peer-leave": { peer: Readonly<Peer> };
  message: { from: string; data: unknown };
  /** `type` is the MIME type the sender declared: a claim, not a check. */
  "file-start": { from: string; name: string; size: number; type: string; transfer: Transfer };
  /**
   * `blob` is always `application/octet-stream`, so that no sender picks how a browser opens it. It reads from
   * the file's stored copy, kept until `transfer.release()` or until the page goes.
   */
  file: { from: string; name: string; size: number; type: string; blob: Blob; transfer: Transfer };
  /** A remote track: `streams` holds the one stream it belongs to, `label` that stream's label. */
  track: { from: string; track: MediaStreamTrack; streams: MediaStream[]; label: string; muted: boolean };
  /** The sender muted or unmuted a track (`setMuted`). */
  "track-muted": { from: string; track: MediaStreamTrack; muted: boolean };
  /** A peer stopped publishing a stream, or is gone: its tracks have ended. */
  "stream-removed": { from: string; stream: MediaStream };
  signaling: { state: SignalingState };
  /** `peer` names the peer an error is about (`key-mismatch`, `bad-signal`, a refused file). */
  error: { code: string; message: string; peer?: string };
}

export function joinRoom(room: string, options: JoinOptions = {}): MeshRoom {
  return new MeshRoom(room, options);
}

export class MeshRoom extends TypedEventTarget<MeshRoomEvents> {
  /** Our peer id once welcomed, else null. Unchanged by a resume. */
  id: string | null = null;
  readonly #peers = new Map<string, Peer>();
  readonly #links = new Map<string, Link>();
  readonly #media = new Map<string, MediaLink>();
  /** Each peer's incoming files. */
  readonly #inboxes = new Map<string, Inbox>();
  /** Checks run whenever a link changes state or goes: senders waiting to resume a file (see `#reopen`). */
  readonly #linkWatch = new Set<() => void>();
  #published: Publication[] = [];
  #streams = 0;
  readonly #signaling: Signaling;
  readonly #codecs: CodecFactory;
  #iceServers: IceServer[] = [];
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the credentials that our links' relay allocations were made with expire (epoch ms). */
  #relayExpiresAt = NEVER;
  #transfers = 0;

  constructor(
    room: string,
    private readonly options: JoinOptions,
  ) {
    super();
    // The server answers a bad name with HTTP 400, which a WebSocket cannot see: say so here, once.
    if (!ROOM_NAME.test(room)) throw new TypeError(`invalid room name: ${room}`);
    // A malformed key throws here, before anything is sent.
    this.#codecs = options.key === undefined ? plaintext : sealed(options.key, room);
    const base = (options.server ?? location.origin).replace(/^http/, "ws");
    this.#signaling = new Signaling(
      (resume) => {
        const url = new URL(`/r/${encodeURIComponent(room)}/ws`, base);
        if (options.name) url.searchParams.set("name", options.name);
        if (resume) url.searchParams.set("resume", resume);
        return url.href;
      },
      {
        welcome: (welcome) => this.#welcome(welcome),
        message: (message) => this.#signal(message),
        state: (state) => {
          // Closed for good (left, refused, removed, replaced by another tab): no link can be negotiated again.
          if (state === "closed") {
            clearTimeout(this.#renewTimer);
            this.#dropAll();
          }
          this.emit("signaling", { state });
        },
        error: (code, message) => this.emit("error", { code, message }),
      },
    );
    // Where received files go, ready before the first one; and what closed or crashed pages left there.
    sweep().catch(() => undefined);
  }

  get peers(): ReadonlyMap<string, Readonly<Peer>> {
    return this.#peers;
  }

  get signalingState(): SignalingState {
    return this.#signaling.state;
  }

  /** Whether the room's ICE servers include a TURN relay with credentials (false until welcomed). */
  get relayAvailable(): boolean {
    return canRelay(this.#iceServers);
  }

  /** Sends any JSON value to one connected peer, or to every connected peer; returns how many it reached. */
  send(data: unknown, to?: string): number {
    const text = JSON.stringify({ type: "message", data });
    const sent = this.#connected(to).filter((link) => link.sendChat(text)).length;
    if (to !== undefined && sent === 0) throw new Error(`peer ${to} is not connected`);
    return sent;
  }

  /** Sends a file to one connected peer, or to every connected peer. */
  sendFile(file: Blob & { name?: string }, options: { to?: string } = {}): Transfer {
    const links = this.#connected(options.to);
    if (links.length === 0) throw new Error("no connected peer to send the file to");
    const id = `${this.id}-${++this.#transfers}`;
    const routes = links.map((link) => ({
      channel: link.pc.createDataChannel(`file:${id}`, { ordered: true }),
      // The link's connection now: a new one after a rebuild, which a resume's channel is on.
      maxMessageSize: () => this.#links.get(link.remoteId)?.pc.sctp?.maxMessageSize,
      reopen: () => this.#reopen(link.remoteId, `file:${id}`),
    }));
    return sendFile(file, id, routes);
  }

  /**
   * Publishes a stream's tracks to every connected peer and every peer that
   * connects later, under `label` (say "camera" or "screen"). At most 2 audio
   * and 2 video tracks are published at once. A stream whose tracks have all
   * ended (a screen share stopped from the browser's own button) is removed.
   */
  addStream(stream: MediaStream, options: { label?: string } = {}): void {
    if (this.#published.some((publication) => publication.stream === stream)) return;
    const tracks = stream.getTracks();
    for (const kind of ["audio", "video"] as const) {
      const count = this.#published
        .flatMap((p) => p.tracks)
        .concat(tracks)
        .filter((t) => t.kind === kind).length;
      if (count > SLOTS[kind]) throw new RangeError(`at most ${SLOTS[kind]} ${kind} tracks are published at once`);
    }
    const publication = {
      id: `s${++this.#streams}`,
      label: options.label ?? "",
      stream,
      tracks,
      ended: new AbortController(),
    };
    this.#published.push(publication);
    for (const track of tracks) this.#watchEnded(publication, track);
    this.#syncMedia();
  }

  /** Stops publishing a stream: every peer gets `stream-removed`. Its tracks are the caller's to stop. */
  removeStream(stream: MediaStream): void {
    for (const publication of this.#published) if (publication.stream === stream) publication.ended.abort();
    this.#published = this.#published.filter((publication) => publication.stream !== stream);
    this.#syncMedia();
  }

  /** Switches a published track (a camera or microphone) for another of its kind, without renegotiating. */
  replaceTrack(old: MediaStreamTrack, next: MediaStreamTrack): void {
    if (old.kind !== next.kind) throw new TypeError(`a ${old.kind} track cannot be replaced by a ${next.kind} one`);
    for (const publication of this.#published) {
      if (!publication.tracks.includes(old)) continue;
      publication.tracks = publication.tracks.map((track) => (track === old ? next : track));
      this.#watchEnded(publication, next);
    }
    for (const media of this.#media.values()) media.replace(old, next);
    this.#syncMedia();
  }

  /** Mutes or unmutes a published track (`enabled`), and tells the peers so they can show it. */
  setMuted(track: MediaStreamTrack, muted: boolean): void {
    track.enabled = !muted;
    this.#syncMedia();
  }

  /**
   * A new channel to a peer for a file whose channel closed midway (or whose
   * opening the peer never heard of), once its link is connected (now, or
   * within `RESUME_MS`, perhaps over a new connection); null if the peer
   * leaves, its link fails for good, or that takes too long.
   */
  #reopen(peerId: string, label: string): Promise<RTCDataChannel | null> {
    return new Promise((resolve) => {
      const waiters = this.#linkWatch;
      const check = () => {
        const link = this.#links.get(peerId);
        if (!link || link.givenUp) done(null);
        else if (link.state === "connected") done(link.pc.createDataChannel(label, { ordered: true }));
      };
      const timer = setTimeout(() => done(null), RESUME_MS);
      const done = (channel: RTCDataChannel | null) => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(channel);
      };
      waiters.add(check);
      check();
    });
  }

  /** Leaves for good: signaling closes, and with it every link (see the constructor). */
  leave(): void {
    this.#signaling.leave();
  }

  /** The links that may carry data: one named peer (which must be connected) or all connected ones. */
  #connected(to?: string): Link[] {
    if (to === undefined) return [...this.#links.values()].filter((link) => link.state === "connected");
    const link = this.#links.get(to);
    if (link?.state !== "connected") throw new Error(`peer ${to} is not connected`);
    return [link];
  }

  #welcome(welcome: Welcome): void {
    this.#useIceServers(welcome.iceServers, welcome.iceServersTtl, false);
    if (this.options.relay && !this.relayAvailable) {
      this.emit("error", {
        code: "relay-unavailable",
        message: "relay-only, but this room offers no TURN server: connecting to nobody",
      });
    }
    if (welcome.resumed && welcome.id === this.id) {
      // Same peer, same connections: forget who left while we were away, meet who came.
      const present = new Set(welcome.peers.map((peer) => peer.id));
      for (const id of this.#links.keys()) if (!present.has(id)) this.#drop(id);
      for (const peer of welcome.peers) if (!this.#links.has(peer.id)) this.#add(peer, false);
      for (const link of this.#links.values()) link.resend();
      return;
    }
    // A new identity (first join, or our old one expired): start over as the newcomer, who offers.
    // Our old identity may still be in the roster (its welcome got lost): it will expire, never offer to it.
    const previous = this.id;
    this.#dropAll();
    this.id = welcome.id;
    for (const peer of welcome.peers) if (peer.id !== previous) this.#add(peer, true);
  }

  /**
   * The room's ICE servers (unless overridden), applied to every link, with a
   * renewal scheduled before their credentials expire. Relayed paths move to
   * the new credentials on a renewal, or on a welcome when the old ones would
   * expire before the next renewal moves them. Servers that cannot relay never
   * replace ones that can (the room's TURN provider failed for now): the room
   * says when to ask again.
   */
  #useIceServers(servers: IceServer[], ttl: number | undefined, renewal: boolean): void {
    if (this.options.iceServers) {
      this.#iceServers = this.options.iceServers;
      return;
    }
    const now = Date.now();
    const renewAt = ttl === undefined ? NEVER : now + ttl * 1000 * RENEW_AT;
    clearTimeout(this.#renewTimer);
    if (renewAt !== NEVER) {
      const delay = Math.min(renewAt - now, MAX_TIMER_MS);
      this.#renewTimer = setTimeout(() => this.#signaling.send({ type: "renew-ice" }), delay);
    }
    if (!canRelay(servers) && this.relayAvailable) return;
    const move = renewal || this.#relayExpiresAt < renewAt;
    this.#iceServers = servers;
    for (const link of this.#links.values()) link.setIceServers(servers, move);
    if (move || this.#relayExpiresAt === NEVER) {
      this.#relayExpiresAt = ttl === undefined ? NEVER : now + ttl * 1000;
    }
  }

  #signal(message: RoomFrame): void {
    switch (message.type) {
      case "ice-servers":
        this.#useIceServers(message.iceServers, message.iceServersTtl, true);
        break;
      case "peer-joined":
        if (!this.#links.has(message.peer.id)) this.#add(message.peer, false);
        break;
      case "peer-left":
        this.#drop(message.id);
        break;
      default:
        // A frame for a pair already closed has nowhere to go, and that is fine.
        this.#links.get(message.from)?.receive(message);
        break;
    }
  }

  /** A stream whose tracks have all ended (a screen share stopped from the browser's own button) is removed. */
  #watchEnded(publication: Publication, track: MediaStreamTrack): void {
    const ended = () => {
      if (publication.tracks.every((t) => t.readyState === "ended")) this.removeStream(publication.stream);
    };
    track.addEventListener("ended", ended, { signal: publication.ended.signal });
  }

  #syncMedia(): void {
    for (const media of this.#media.values()) media.sync();
  }

  #add(info: PeerInfo, initiator: boolean): void {
    const peer: Peer = { id: info.id, name: info.name, state: "connecting" };
    const self = this.id;
    // Links exist only once welcomed: the codec seals for our id.
    if (self === null) throw new Error("a link before the welcome");
    const options = {
      iceServers: this.#iceServers,
      relay: this.options.relay === true,
      online: () => this.#signaling.state === "connected",
      giveUpMs: this.options.giveUpMs,
    };
    const codec = this.#codecs(self, info.id);
    // Kept across new connections to the peer, so that its files resume over the next one.
    const inbox = {
      transfers: new Map<string, Incoming>(),
      received: [],
      maxFileSize: this.options.maxFileSize ?? 2 ** 32,
    };
    const media = () => this.#media.get(info.id);
    const link: Link = new Link(info.id, initiator, options, codec, (message) => this.#signaling.send(message), {
      state: (state) => {
        peer.state = state;
        this.emit("peer-state", { peer });
        if (state === "connected") this.emit("peer-connect", { peer });
        // A link that gave up carries nothing any more: its streams end now, not when the room says it left.
        if (state === "failed") media()?.close();
        // Who is connected sets every video cap; a link that came up can now say what it sends.
        this.#syncMedia();
        // A sender waiting to resume a file to this peer.
        for (const check of [...this.#linkWatch]) check();
      },
      chat: (text) => {
        const frame = v.safeParse(PeerControl, parseJson(text));
        if (!frame.success) return;
        if (frame.output.type === "message") this.emit("message", { from: info.id, data: frame.output.data });
        else media()?.receive(frame.output);
      },
      fileChannel: (channel) =>
        receiveFile(channel, inbox, {
          start: (transfer) => this.emit("file-start", { from: info.id, ...describe(transfer), transfer }),
          complete: (transfer, blob) => this.emit("file", { from: info.id, ...describe(transfer), blob, transfer }),
          refuse: (code, message) => this.emit("error", { code, message, peer: info.id }),
        }),
      mismatch: () =>
        this.emit("error", {
          code: "key-mismatch",
          message: `${info.name ?? "a peer"}'s signaling does not match this room's key`,
          peer: info.id,
        }),
      rejected: () =>
        this.emit("error", {
          code: "bad-signal",
          message: `a signaling frame from ${info.name ?? "a peer"} was forged or replayed, and was dropped`,
          peer: info.id,
        }),
      offerApplied: () => media()?.offerApplied(),
      // The old connection's streams have ended; what we publish goes out again on the new one.
      renewed: () => {
        media()?.close();
        this.#addMedia(link, initiator);
      },
    });
    this.#peers.set(info.id, peer);
    this.#links.set(info.id, link);
    this.#inboxes.set(info.id, inbox);
    this.#addMedia(link, initiator);
    this.emit("peer-join", { peer });
  }

  /** The media slots of a link's current connection. */
  #addMedia(link: Link, initiator: boolean): void {
    const from = link.remoteId;
    const media = new MediaLink(
      link.pc,
      initiator,
      (text) => link.sendChat(text),
      () => this.#published,
      () => videoCaps(this.options.videoUplink ?? 3_000_000, this.#connected().length),
      {
        track: (track, stream, label, muted) => this.emit("track", { from, track, streams: [stream], label, muted }),
        muted: (track, muted) => this.emit("track-muted", { from, track, muted }),
        removed: (stream) => this.emit("stream-removed", { from, stream }),
      },
    );
    this.#media.set(from, media);
    // An initiator with something to send puts the media slots in its first offer.
    media.sync();
  }

  #dropAll(): void {
    for (const id of [...this.#links.keys()]) this.#drop(id);
  }

  #drop(id: string): void {
    const link = this.#links.get(id);
    const peer = this.#peers.get(id);
    if (!link || !peer) return;
    this.#media.get(id)?.close();
    this.#media.delete(id);
    // Gone for good: its files cannot resume, and no sender waits for it.
    for (const incoming of this.#inboxes.get(id)?.transfers.values() ?? []) incoming.abandon();
    this.#inboxes.delete(id);
    link.close();
    this.#links.delete(id);
    for (const check of [...this.#linkWatch]) check();
    this.#peers.delete(id);
    this.emit("peer-leave", { peer });
  }
}

function describe(transfer: Transfer): { name: string; size: number; type: string } {
  return { name: transfer.name, size: transfer.size, type: transfer.type };
}
