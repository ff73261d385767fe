/**
 * A room: one Durable Object holding its peers' hibernatable WebSockets.
 *
 * The object runs one event at a time, and no handler awaits between reading
 * and writing room state, so admission and relaying need no lock. (The two
 * awaits, issuing TURN credentials before admission and for `renew-ice`, sit
 * outside any read-then-write.) Everything that matters is in the SQLite
 * store; memory holds only what may be lost (rate-limit buckets, renewals in
 * flight), and the constructor reconciles the store with the sockets that
 * survived, so a wake, an eviction and a restart all look alike.
 */
import { DurableObject } from "cloudflare:workers";
import * as v from "valibot";
import { type Config, type Env, readConfig } from "./config";
import { hashToken, newConnectionId, newPeerId, newResumeToken } from "./ids";
import { exceedsFrameLimit, HELD_PER_AWAY_PEER, HELD_PER_PAIR, RateLimiter } from "./limits";
import {
  CLIENT_MESSAGE_TYPES,
  ClientMessage,
  CloseCode,
  type ErrorCode,
  errorFrame,
  type IceServer,
  type PeerInfo,
  parseDisplayName,
  type RelayedMessage,
  type ServerMessage,
} from "./protocol";
import { type PeerRow, RoomStore } from "./store";
import { type IssuedIce, issueIceServers, issueIceServersForEach, notIssued } from "./turn";

/** What a hibernatable socket remembers about itself across hibernation. */
const Attachment = v.object({ peer: v.string(), conn: v.string() });
type Attachment = v.InferOutput<typeof Attachment>;

/** Outcome of handing a frame to a peer. */
type Delivery = "sent" | "held" | "overflow";

/** A new resume token, and its hash as stored. */
type Secret = { token: string; tokenHash: string };

export class Room extends DurableObject<Env> {
  readonly #store: RoomStore;
  readonly #config: Config;
  /**
   * Rate limiters by peer id, kept across resumes so that reconnecting never
   * refills a bucket or clears the drop window; lost on hibernation, which
   * only happens when the room is idle.
   */
  readonly #limiters = new Map<string, RateLimiter>();
  /** Peers whose renew-ice is awaiting its credentials: a second one waits its turn. */
  readonly #renewing = new Set<string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = readConfig(env);
    this.#store = new RoomStore(ctx.storage.sql);
    // Heartbeats are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    void ctx.blockConcurrencyWhile(async () => this.#reconcile());
  }

  // Lifecycle: joining and resuming.

  /** The Worker forwards the raw upgrade request here; answers 101 in every case. */
  override async fetch(request: Request): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const presented = params.get("resume");
    const name = parseDisplayName(params.get("name"));
    // Every await comes first: one inside admission would let another event interleave.
    const presentedHash = presented ? await hashToken(presented) : null;
    const secret = await newSecret();
    // Admission picks the id only later, so credentials are issued for each id it can pick.
    const joinId = newPeerId();
    const issued = await this.#issueBeforeAdmission(presentedHash, name.ok ? joinId : null);

    const { 0: client, 1: server } = new WebSocketPair();
    this.#expireDue(Date.now());
    const resumable = presentedHash === null ? null : this.#store.peerByTokenHash(presentedHash);
    // Issued unless the room looked full before the await and a seat came free during it.
    const iceFor = (id: string): IssuedIce => issued.get(id) ?? notIssued(this.#config);
    if (resumable) this.#resume(server, resumable, secret, iceFor(resumable.id));
    else if (!name.ok) reject(server, "bad-name", name.message, CloseCode.badName);
    else this.#join(server, { id: joinId, name: name.name }, secret, iceFor(joinId));
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * TURN credentials for the peer a presented token resumes, as the store says
   * now (read only: after the await, admission looks again), and for the new
   * id a join would get, unless its name or a full room already rules the join
   * out (each issue may be a paid API call). Only the admitted peer's are ever
   * sent.
   */
  async #issueBeforeAdmission(
    presentedHash: string | null,
    joinId: string | null,
  ): Promise<ReadonlyMap<string, IssuedIce>> {
    const resumeId = presentedHash === null ? null : (this.#store.peerByTokenHash(presentedHash)?.id ?? null);
    const mayJoin = resumeId === null && this.#store.count() < this.#config.maxPeers;
    return issueIceServersForEach(
      this.#config,
      [resumeId, mayJoin ? joinId : null].filter((id) => id !== null),
    );
  }

  #join(socket: WebSocket, peer: PeerInfo, secret: Secret, ice: IssuedIce): void {
    if (this.#store.count() >= this.#config.maxPeers) {
      reject(socket, "room-full", `this room is full (${this.#config.maxPeers} peers)`, CloseCode.roomFull);
      return;
    }
    const others = this.#store.roster();
    const conn = newConnectionId();
    this.#store.addPeer({ ...peer, tokenHash: secret.tokenHash, conn });
    this.#accept(socket, { peer: peer.id, conn });
    this.#sendWelcome(socket, peer.id, secret.token, false, others, ice);
    for (const other of others) this.#deliver(other.id, { type: "peer-joined", peer }, null);
  }

  #resume(socket: WebSocket, peer: PeerRow, secret: Secret, ice: IssuedIce): void {
    const halfOpen = this.#socketOf(peer);
    const conn = newConnectionId();
    this.#store.reconnect(peer.id, secret.tokenHash, conn);
    if (halfOpen) closeSocket(halfOpen, CloseCode.replaced, "replaced by a resumed connection");
    this.#accept(socket, { peer: peer.id, conn });
    const others = this.#store.roster().filter((other) => other.id !== peer.id);
    this.#sendWelcome(socket, peer.id, secret.token, true, others, ice);
    for (const frame of this.#store.takeHeld(peer.id, "away")) socket.send(frame);
    this.#syncAlarm();
  }

  #accept(socket: WebSocket, attachment: Attachment): void {
    this.ctx.acceptWebSocket(socket, [attachment.conn]);
    socket.serializeAttachment(attachment);
    attachments.set(socket, attachment);
  }

  #sendWelcome(
    socket: WebSocket,
    id: string,
    token: string,
    resumed: boolean,
    others: PeerRow[],
    ice: IssuedIce,
  ): void {
    send(socket, {
      type: "welcome",
      id,
      resume: token,
      resumed,
      peers: others.map(({ id, name }) => ({ id, name })),
      ...iceFields(ice),
      maxPeers: this.#config.maxPeers,
    });
    if (ice.issued) this.#store.setIceIssuedAt(id, Date.now());
  }

  // Lifecycle: disconnects, expiry and removal.

  override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
    // Complete the closing handshake: hibernatable sockets may not reply on their own.
    closeSocket(socket, isSendableCloseCode(code) ? code : CloseCode.left, reason);
    this.#lostConnection(socket);
  }

  override async webSocketError(socket: WebSocket): Promise<void> {
    this.#lostConnection(socket);
  }

  /** A socket closed without `leave`: its peer is away, not gone. */
  #lostConnection(socket: WebSocket): void {
    const attachment = attachmentOf(socket);
    if (!attachment) return;
    const peer = this.#store.peer(attachment.peer);
    // A replaced or already removed connection speaks for no one.
    if (peer?.conn !== attachment.conn || peer.awayUntil !== null) return;
    this.#markAway(peer.id, Date.now());
  }

  #markAway(id: string, now: number): void {
    this.#store.markAway(id, now + this.#config.resumeGraceMs);
    this.#syncAlarm();
  }

  override async alarm(): Promise<void> {
    this.#expireDue(Date.now());
    this.#syncAlarm();
  }

  #expireDue(now: number): void {
    for (const id of this.#store.expiredBy(now)) this.#remove(id);
  }

  /** Removes a peer and all its state, then tells everyone left. */
  #remove(id: string): void {
    this.#store.removePeer(id);
    this.#limiters.delete(id);
    for (const other of this.#store.roster()) this.#deliver(other.id, { type: "peer-left", id }, null);
    this.#syncAlarm();
  }

  /**
   * After a wake or a restart, any stored peer whose socket did not survive is
   * away from now: a deploy drops sockets without a close event.
   */
  #reconcile(): void {
    const live = new Set<string>();
    for (const socket of this.ctx.getWebSockets()) {
      const attachment = attachmentOf(socket);
      if (attachment && socket.readyState === WebSocket.OPEN) live.add(attachment.conn);
    }
    const now = Date.now();
    for (const peer of this.#store.roster()) {
      if (peer.awayUntil === null && !live.has(peer.conn))
        this.#store.markAway(peer.id, now + this.#config.resumeGraceMs);
    }
    this.#syncAlarm();
  }

  /** One alarm, at the earliest away deadline. */
  #syncAlarm(): void {
    const deadline = this.#store.nextDeadline();
    if (deadline === null) void this.ctx.storage.deleteAlarm();
    else void this.ctx.storage.setAlarm(deadline);
  }

  // Dispatch.

  override async webSocketMessage(socket: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const attachment = attachmentOf(socket);
    const sender = attachment ? this.#store.peer(attachment.peer) : null;
    if (!attachment || sender?.conn !== attachment.conn) return;
    if (!this.#admit(socket, sender)) return;
    const message = parseFrame(data);
    if ("error" in message) send(socket, message.error);
    else await this.#dispatch(socket, sender, message.ok);
  }

  /** Applies the rate limit; false when the message must be dropped. */
  #admit(socket: WebSocket, sender: PeerRow): boolean {
    const now = Date.now();
    let limiter = this.#limiters.get(sender.id);
    if (!limiter) {
      limiter = new RateLimiter(this.#config.rate, now);
      this.#limiters.set(sender.id, limiter);
    }
    const verdict = limiter.take(now);
    if (verdict === "accept") return true;
    if (verdict === "drop-and-notify") {
      send(socket, errorFrame("rate-limited", `more than ${this.#config.rate.perSecond} messages/s; dropped`));
    } else if (verdict === "flooding") {
      this.#remove(sender.id);
      closeSocket(socket, CloseCode.flooding, "flooding");
    }
    return false;
  }

  /** Handles a message; only `renew-ice` awaits anything. */
  #dispatch(socket: WebSocket, sender: PeerRow, message: ClientMessage): Promise<void> | undefined {
    if (message.type === "leave") {
      this.#remove(sender.id);
      closeSocket(socket, CloseCode.left, "left");
      return;
    }
    if (message.type === "renew-ice") return this.#renewIce(socket, sender);
    const receiver = message.to === sender.id ? null : this.#store.peer(message.to);
    if (!receiver) {
      send(socket, errorFrame("unknown-peer", "`to` is not another peer of this room", message.type));
      return;
    }
    switch (message.type) {
      case "offer":
      case "key-mismatch":
        this.#relay(socket, sender, receiver, message);
        break;
      case "answer":
        // A receiver expired by its overflowing queue is gone: nothing to be ready for.
        if (this.#relay(socket, sender, receiver, message) !== "overflow") this.#becomeReady(socket, sender, receiver);
        break;
      case "candidate":
        this.#relayCandidate(socket, sender, receiver, message);
        break;
      case "ready":
        this.#becomeReady(socket, sender, receiver);
        break;
      case "done":
        this.#connected(sender, receiver);
        break;
    }
  }

  /**
   * Fresh ICE servers for the sender, at most once per TTL/2 after the last
   * credentials it was issued (each may be a paid API call; the time is stored,
   * so hibernating does not reset it). Other events run during the await, so a
   * second renewal in flight is refused before it, and after it this records
   * the issue and answers only the asking socket, while it still speaks for
   * its peer. A failed call records nothing: the peer may retry soon.
   */
  async #renewIce(socket: WebSocket, sender: PeerRow): Promise<void> {
    const { turn } = this.#config;
    if (turn === null) {
      send(socket, { type: "ice-servers", ...iceFields(notIssued(this.#config)) });
      return;
    }
    const intervalMs = (turn.ttlSeconds * 1000) / 2;
    const last = this.#store.iceIssuedAt(sender.id);
    const wait = last === null ? 0 : last + intervalMs - Date.now();
    if (wait > 0 || this.#renewing.has(sender.id)) {
      const message = `renew-ice at most once every ${intervalMs / 1000} s (half the credentials' lifetime); retry in ${Math.ceil(Math.max(wait, 1000) / 1000)} s`;
      send(socket, errorFrame("rate-limited", message, "renew-ice"));
      return;
    }
    this.#renewing.add(sender.id);
    const ice = await issueIceServers(this.#config, sender.id).finally(() => this.#renewing.delete(sender.id));
    const current = this.#store.peer(sender.id);
    if (current?.conn !== sender.conn || current.awayUntil !== null || socket.readyState !== WebSocket.OPEN) return;
    if (ice.issued) this.#store.setIceIssuedAt(sender.id, Date.now());
    send(socket, { type: "ice-servers", ...iceFields(ice) });
  }

  #relay(socket: WebSocket, sender: PeerRow, receiver: PeerRow, message: RelayedMessage): Delivery {
    const delivery = this.#deliver(receiver.id, relayed(sender, message), sender.id);
    if (delivery === "overflow") {
      send(socket, errorFrame("queue-full", "the receiver is away and its queue is full; it has left", message.type));
    }
    return delivery;
  }

  /** ICE holding: a candidate reaches its receiver only once the receiver is ready for the sender. */
  #relayCandidate(socket: WebSocket, sender: PeerRow, receiver: PeerRow, message: RelayedMessage): void {
    if (this.#store.isReady(receiver.id, sender.id)) {
      this.#relay(socket, sender, receiver, message);
    } else if (this.#store.heldCount(receiver.id, "pair", sender.id) >= HELD_PER_PAIR) {
      send(socket, errorFrame("queue-full", `at most ${HELD_PER_PAIR} candidates are held per pair`, "candidate"));
    } else {
      this.#store.hold(receiver.id, sender.id, "pair", JSON.stringify(relayed(sender, message)), true);
    }
  }

  /** `sender` can now use candidates from `peer`: mark it and deliver what was held, in order. */
  #becomeReady(socket: WebSocket, sender: PeerRow, peer: PeerRow): void {
    this.#store.markReady(sender.id, peer.id);
    for (const frame of this.#store.takeHeld(sender.id, "pair", peer.id)) socket.send(frame);
  }

  #connected(sender: PeerRow, peer: PeerRow): void {
    const dropped = this.#store.dropPairCandidates(sender.id, peer.id);
    // Each side says done, and again after every ICE restart: count the pair once.
    if (this.#store.markConnected(sender.id, peer.id)) this.#store.bumpStat("pairs-connected", 1);
    this.#store.bumpStat("candidates-dropped", dropped);
    console.log(
      JSON.stringify({ event: "pair-connected", room: this.ctx.id.toString(), dropped, ...this.#store.stats() }),
    );
  }

  // Delivery.

  /** Sends a frame to a connected peer, or holds it while the peer is away. */
  #deliver(receiverId: string, message: ServerMessage, senderId: string | null): Delivery {
    const receiver = this.#store.peer(receiverId);
    if (!receiver) return "sent";
    const frame = JSON.stringify(message);
    const socket = receiver.awayUntil === null ? this.#socketOf(receiver) : null;
    if (socket) {
      socket.send(frame);
      return "sent";
    }
    // Its socket is gone even if no close event said so yet: the peer is away from now.
    if (receiver.awayUntil === null) this.#markAway(receiver.id, Date.now());
    if (this.#store.heldCount(receiver.id, "away") >= HELD_PER_AWAY_PEER) {
      // It could only come back with a stale view of the room: expire it now.
      this.#remove(receiver.id);
      return "overflow";
    }
    this.#store.hold(receiver.id, senderId, "away", frame, message.type === "candidate");
    return "held";
  }

  /** The open socket that currently speaks for a peer, if any. */
  #socketOf(peer: PeerRow): WebSocket | null {
    for (const socket of this.ctx.getWebSockets(peer.conn)) {
      if (socket.readyState === WebSocket.OPEN) return socket;
    }
    return null;
  }
}

// Frames.

async function newSecret(): Promise<Secret> {
  const token = newResumeToken();
  return { token, tokenHash: await hashToken(token) };
}

/** `iceServersTtl` only when something expires. */
function iceFields(ice: IssuedIce): { iceServers: IceServer[]; iceServersTtl?: number } {
  return ice.ttl === undefined
    ? { iceServers: ice.iceServers }
    : { iceServers: ice.iceServers, iceServersTtl: ice.ttl };
}

/** A relayed message as its receiver gets it: `to` replaced by the sender's real id, the rest untouched. */
function relayed(sender: PeerRow, message: RelayedMessage): ServerMessage {
  const { to: _, ...body } = message;
  return { ...body, from: sender.id };
}

type Parsed = { ok: ClientMessage } | { error: ServerMessage };

function parseFrame(data: string | ArrayBuffer): Parsed {
  if (typeof data !== "string") return { error: errorFrame("binary-unsupported", "send JSON text frames") };
  if (exceedsFrameLimit(data)) return { error: errorFrame("too-large", "frames are limited to 64 KiB") };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { error: errorFrame("bad-json", "the frame is not valid JSON") };
  }
  const result = v.safeParse(ClientMessage, json);
  if (result.success) return { ok: result.output };
  const issue = result.issues[0];
  const path = issue.path?.map((item) => String(item.key)).join(".");
  return { error: errorFrame("bad-message", path ? `${path}: ${issue.message}` : issue.message, refOf(json)) };
}

/** The type of a rejected message, when it names one the protocol knows. */
function refOf(json: unknown): string | undefined {
  if (typeof json !== "object" || json === null || !("type" in json)) return undefined;
  return typeof json.type === "string" && CLIENT_MESSAGE_TYPES.has(json.type) ? json.type : undefined;
}

/** Attachments are read once per socket per wake, not once per frame. */
const attachments = new WeakMap<WebSocket, Attachment | null>();

function attachmentOf(socket: WebSocket): Attachment | null {
  let attachment = attachments.get(socket);
  if (attachment === undefined) {
    const result = v.safeParse(Attachment, socket.deserializeAttachment());
    attachment = result.success ? result.output : null;
    attachments.set(socket, attachment);
  }
  return attachment;
}

function send(socket: WebSocket, message: ServerMessage): void {
  socket.send(JSON.stringify(message));
}

/** Closing can race the peer's own close; a socket already closing needs nothing more. */
function closeSocket(socket: WebSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closed.
  }
}

/** 1005, 1006 and 1015 only ever describe a close; they cannot be sent. */
function isSendableCloseCode(code: number): boolean {
  return (
    code === 1000 || (code >= 1001 && code <= 1014 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)
  );
}

/**
 * Refuses a join after accepting it, so the client sees the error frame and
 * the close code (a refused upgrade shows a browser neither). The socket is
 * not hibernatable: it never needs to outlive this request.
 */
function reject(socket: WebSocket, code: ErrorCode, message: string, closeCode: number): void {
  socket.accept();
  send(socket, errorFrame(code, message));
  socket.close(closeCode, code);
}
