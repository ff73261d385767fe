/**
 * A room: one Durable Object holding its peers' hibernatable WebSockets. This
 * is the room's policy: who is admitted (and in whose seat), when a peer is
 * away or gone, and which message does what. The platform's handlers, their
 * error boundary and transactions are in src/shell.ts; relaying and holding
 * in src/relay.ts; the seat rules in src/seats.ts; `renew-ice` in
 * src/renewal.ts; the numbers in src/limits.ts; storage in src/store.ts and
 * its versions in src/schema.ts.
 *
 * The object runs one event at a time, and every change runs as one
 * transaction that awaits nothing, so admission and relaying need no lock.
 * (The awaits, issuing TURN credentials before admission and for `renew-ice`,
 * sit outside any transaction.) Everything that matters is in the SQLite
 * store; memory holds only what may be lost (rate-limit and join buckets,
 * byte budgets, renewals in flight), and each wake reconciles the store with
 * the sockets that survived, so a wake, an eviction and a restart all look
 * alike.
 */
import * as v from "valibot";
import { type Config, type Env, readConfig } from "./config";
import { hashToken, newConnectionId, newPeerId, newResumeToken } from "./ids";
import { CLIENT_MESSAGE_TYPES, ClientMessage, parseDisplayName } from "./inbound";
import { addressKey } from "./limiter";
import { exceedsFrameLimit, JoinLimiter, RateLimiter, ROOM_JOINS } from "./limits";
import { CloseCode, errorFrame, type PeerInfo, type ServerMessage } from "./protocol";
import { Relay } from "./relay";
import { IceRenewal, iceFields } from "./renewal";
import { absenceAt, seat } from "./seats";
import { type Attachment, type Handler, refuse, Shell } from "./shell";
import { type PeerRow, RoomStore } from "./store";
import { type IssuedIce, issueIceServersForEach, notIssued } from "./turn";

/** A new resume token, and its hash as stored. */
type Secret = { token: string; tokenHash: string };

/** What an upgrade brings to admission, every await done. */
interface Upgrade {
  presentedHash: string | null;
  name: ReturnType<typeof parseDisplayName>;
  ip: string | null;
  secret: Secret;
  joinId: string;
  issued: ReadonlyMap<string, IssuedIce>;
}

/** A message addressed to another peer. */
type Addressed = Extract<ClientMessage, { to: string }>;

/** After a failed alarm, the next try: soon, but not at once (its deadline has passed). */
const ALARM_RETRY_MS = 5_000;

export class Room extends Shell {
  readonly #config: Config;
  readonly #store: RoomStore;
  readonly #relay: Relay;
  /**
   * Rate limiters by peer id, kept across resumes so that reconnecting never
   * refills a bucket or clears the drop window; lost on hibernation, which
   * only happens after 10 s without an event, when every bucket is full again.
   */
  readonly #limiters = new Map<string, RateLimiter>();
  readonly #joins = new JoinLimiter(Date.now());
  readonly #renewal: IceRenewal;
  /** The alarm as this object last set or read it. */
  #alarmAt: number | null = null;
  /** After a failed alarm, no alarm before this: a failure that repeats must not spin. */
  #alarmNotBefore = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = readConfig(env);
    this.#store = new RoomStore(ctx.storage.sql);
    this.#relay = new Relay(this.#store, this.#config.maxPeers, {
      toPeer: (receiver, frame) => this.#toPeer(receiver, frame),
      toSocket: (socket, message) => this.send(socket, message),
      log: (line) => this.afterCommit(() => console.log(JSON.stringify({ ...line, room: ctx.id.toString() }))),
    });
    this.#renewal = new IceRenewal(this.#config, this.#store, {
      send: (socket, message) => this.send(socket, message),
      commit: (change) => this.#commit(change),
    });
    // Heartbeats are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    void ctx.blockConcurrencyWhile(async () => {
      this.#alarmAt = await ctx.storage.getAlarm();
      this.guard("start", () => this.#commit(() => this.#start()));
    });
  }

  /**
   * Loads (and migrates) the store, then: any stored peer whose socket did not
   * survive is away from now, since a deploy drops sockets without a close event.
   */
  #start(): void {
    const now = Date.now();
    this.#store.load(now);
    const live = this.liveConnections();
    for (const peer of this.#store.roster()) {
      if (peer.awayUntil === null && !live.has(peer.conn)) this.#markAway(peer, now);
    }
  }

  // Admission.

  protected override async onRequest(request: Request): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const presented = params.get("resume");
    const presentedHash = presented ? await hashToken(presented) : null;
    // Before anything that costs: secrets, TURN credentials (maybe a paid call each), storage.
    const resuming = presentedHash === null ? null : (this.#store.peerByTokenHash(presentedHash)?.id ?? null);
    const name = parseDisplayName(params.get("name"));
    // A join refused for its name costs the room nothing, not even a join token.
    if (resuming === null && !name.ok) return refuse("bad-name", name.message, CloseCode.badName);
    const address = addressKey(request.headers.get("CF-Connecting-IP"));
    const share = this.#config.joinRatePerIp === 0 ? null : address;
    if (!this.#joins.take(Date.now(), resuming, share)) {
      const message = `more than ${ROOM_JOINS.burst} joins and resumes into this room just now; retry in a few seconds`;
      return refuse("rate-limited", message, CloseCode.joinRateLimited);
    }
    // Stored with the peer only for MAX_PEERS_PER_IP, as the limiter counts it (IPv6 per /64).
    const ip = this.#config.maxPeersPerIp === null ? null : address;
    const secret = await newSecret();
    // Admission picks the id only later, so credentials are issued for each id it can pick.
    const joinId = newPeerId();
    const issued = await this.#issueBeforeAdmission(resuming, name.ok ? joinId : null, ip);
    // Every await is behind us: admission reads and writes in one turn.
    return this.#commit(() => this.#admit({ presentedHash, name, ip, secret, joinId, issued }));
  }

  /**
   * TURN credentials for the peer a presented token resumes, and for the new
   * id a join would get, unless its name or the seats already rule the join
   * out (each issue may be a paid API call). Read only: after the await,
   * admission looks again. Only the admitted peer's are ever sent.
   */
  async #issueBeforeAdmission(
    resumeId: string | null,
    joinId: string | null,
    ip: string | null,
  ): Promise<ReadonlyMap<string, IssuedIce>> {
    const mayJoin = resumeId === null && seat(this.#store.roster(), ip, Date.now(), this.#config).admit;
    return issueIceServersForEach(
      this.#config,
      [resumeId, mayJoin ? joinId : null].filter((id) => id !== null),
    );
  }

  #admit(upgrade: Upgrade): Response {
    const now = Date.now();
    this.#expireDue(now);
    // Issued unless the room looked full before the await and a seat came free during it.
    const iceFor = (id: string): IssuedIce => upgrade.issued.get(id) ?? notIssued(this.#config);
    const resumable = upgrade.presentedHash === null ? null : this.#store.peerByTokenHash(upgrade.presentedHash);
    if (resumable) return this.#resume(resumable, upgrade, iceFor(resumable.id), now);
    if (!upgrade.name.ok) return refuse("bad-name", upgrade.name.message, CloseCode.badName);
    this.#sweep(now);
    const seating = seat(this.#store.roster(), upgrade.ip, now, this.#config);
    if (!seating.admit) return refuse("room-full", seating.reason, CloseCode.roomFull);
    // Seats reclaimed from peers that are not really there: they are gone, as if expired.
    for (const id of seating.evict) this.#remove(id);
    const peer = { id: upgrade.joinId, name: upgrade.name.name };
    return this.#join(peer, upgrade, iceFor(peer.id), now);
  }

  #join(peer: PeerInfo, upgrade: Upgrade, ice: IssuedIce, now: number): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    const others = this.#store.roster();
    const conn = newConnectionId();
    const iceIssuedAt = ice.issued ? now : null;
    const { tokenHash, token } = upgrade.secret;
    this.#store.addPeer(peer, { tokenHash, conn, ip: upgrade.ip, absence: 0, at: now, iceIssuedAt });
    this.accept(server, peer.id, conn);
    this.send(server, this.#welcome(peer.id, token, false, others, ice));
    this.#announce({ type: "peer-joined", peer }, peer.id);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** The same peer on a new socket: a new token, the current roster, and what was held for it. Nobody else is told. */
  #resume(peer: PeerRow, upgrade: Upgrade, ice: IssuedIce, now: number): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    const halfOpen = this.#socketOf(peer);
    const conn = newConnectionId();
    const { tokenHash, token } = upgrade.secret;
    this.#store.reconnect(peer.id, {
      tokenHash,
      conn,
      ip: upgrade.ip ?? peer.ip,
      absence: absenceAt(peer, now),
      at: now,
      iceIssuedAt: ice.issued ? now : null,
    });
    if (halfOpen) this.close(halfOpen, CloseCode.replaced, "replaced by a resumed connection");
    this.accept(server, peer.id, conn);
    const others = this.#store.roster().filter((other) => other.id !== peer.id);
    this.send(server, this.#welcome(peer.id, token, true, others, ice));
    for (const frame of this.#store.takeHeld(peer.id, "away")) this.send(server, frame);
    return new Response(null, { status: 101, webSocket: client });
  }

  #welcome(id: string, token: string, resumed: boolean, others: PeerRow[], ice: IssuedIce): ServerMessage {
    return {
      type: "welcome",
      id,
      resume: token,
      resumed,
      peers: others.map(({ id, name }) => ({ id, name })),
      ...iceFields(ice),
      maxPeers: this.#config.maxPeers,
    };
  }

  // Disconnects, expiry and removal.

  /** A socket closed without `leave`: its peer is away, not gone. */
  protected override onDisconnect(attachment: Attachment): void {
    this.#commit(() => {
      const peer = this.#store.peer(attachment.peer);
      // A replaced or already removed connection speaks for no one.
      if (peer?.conn !== attachment.conn || peer.awayUntil !== null) return;
      this.#markAway(peer, Date.now());
    });
  }

  #markAway(peer: PeerRow, now: number): void {
    this.#store.markAway(peer.id, now + this.#config.resumeGraceMs, absenceAt(peer, now), now);
  }

  /** Before seats are counted: a peer whose socket died without a close event yet is away from now. */
  #sweep(now: number): void {
    for (const peer of this.#store.roster()) {
      if (peer.awayUntil === null && !this.#socketOf(peer)) this.#markAway(peer, now);
    }
  }

  protected override onAlarm(): void {
    this.#alarmNotBefore = 0;
    this.#commit(() => this.#expireDue(Date.now()));
  }

  /** Peers whose grace period is over are gone; candidates held as long for a pair that never got ready go too. */
  #expireDue(now: number): void {
    for (const id of this.#store.expiredBy(now)) this.#remove(id);
    this.#store.expirePairHolds(now - this.#config.resumeGraceMs);
  }

  /** Removes a peer and all its state, then tells everyone connected. */
  #remove(id: string): void {
    this.#store.removePeer(id);
    // Memory is no part of the transaction: forget the peer's buckets only once its removal is committed.
    this.afterCommit(() => {
      this.#limiters.delete(id);
      this.#relay.forget(id);
      this.#joins.forget(id);
    });
    this.#announce({ type: "peer-left", id }, id);
  }

  /**
   * Runs a change as one transaction and then settles the room: an empty room
   * deletes its storage, any other keeps its one alarm at its next deadline.
   */
  #commit<T>(change: () => T): T {
    return this.transact(() => {
      // A room that failed to load tries again before any change: it must not act on an empty memory.
      if (!this.#store.isLoaded) this.#store.load(Date.now());
      const result = change();
      this.afterCommit(() => this.#settle());
      return result;
    });
  }

  #settle(): void {
    // Memory that failed to load says nothing about storage: delete nothing, move no alarm.
    if (!this.#store.isLoaded) return;
    if (this.#store.count() === 0) {
      if (!this.#store.isOpen && this.#alarmAt === null) return;
      // The last peer is gone: nothing of the room is worth keeping (the alarm goes too).
      void this.ctx.storage.deleteAll();
      this.#store.forget();
      this.#alarmAt = null;
      return;
    }
    const held = this.#store.oldestPairHold();
    const deadlines = [this.#store.nextAwayDeadline(), held === null ? null : held + this.#config.resumeGraceMs];
    const next = deadlines.reduce<number | null>((a, b) => (a === null ? b : b === null ? a : Math.min(a, b)), null);
    const at = next === null ? null : Math.max(next, this.#alarmNotBefore);
    if (at === this.#alarmAt) return;
    this.#alarmAt = at;
    if (at === null) void this.ctx.storage.deleteAlarm();
    else void this.ctx.storage.setAlarm(at);
  }

  protected override onFailure(handler: Handler): void {
    if (handler === "alarm") this.#alarmNotBefore = Date.now() + ALARM_RETRY_MS;
    try {
      this.ctx.storage.transactionSync(() => this.#store.load(Date.now()));
    } catch {
      // Still unreadable: it stays unloaded, so every change retries the load first and nothing is deleted.
    }
    this.#settle();
  }

  // Dispatch.

  protected override async onMessage(socket: WebSocket, attachment: Attachment, data: string | ArrayBuffer) {
    const renewal = this.#commit(() => this.#receive(socket, attachment, data));
    if (renewal) await this.#renewal.renew(socket, renewal);
  }

  /** Handles one frame; returns its sender when it asked for ICE servers (that awaits, outside the transaction). */
  #receive(socket: WebSocket, attachment: Attachment, data: string | ArrayBuffer): PeerRow | null {
    const sender = this.#store.peer(attachment.peer);
    if (sender?.conn !== attachment.conn) return null;
    if (!this.#withinRate(socket, sender)) {
      // An ack is never dropped: losing it would cost a reading client its socket (src/receipts.ts).
      const ack = parseAck(data);
      if (ack !== null) this.acknowledge(socket, attachment, ack);
      return null;
    }
    const parsed = parseFrame(data);
    if ("error" in parsed) {
      this.send(socket, parsed.error);
      return null;
    }
    const message = parsed.ok;
    if (message.type === "ack") {
      if (!this.acknowledge(socket, attachment, message.nonce)) {
        this.send(socket, errorFrame("bad-message", "nonce: not the outstanding ack-request's", "ack"));
      }
      return null;
    }
    if (message.type === "renew-ice") return sender;
    if (message.type === "leave") {
      this.#remove(sender.id);
      this.close(socket, CloseCode.left, "left");
      return null;
    }
    const receiver = message.to === sender.id ? null : this.#store.peer(message.to);
    if (receiver) this.#dispatch(socket, sender, receiver, message);
    else this.send(socket, errorFrame("unknown-peer", "`to` is not another peer of this room", message.type));
    return null;
  }

  /** Applies the rate limit; false when the message must be dropped. */
  #withinRate(socket: WebSocket, sender: PeerRow): boolean {
    const now = Date.now();
    let limiter = this.#limiters.get(sender.id);
    if (!limiter) {
      limiter = new RateLimiter(this.#config.rate, now);
      this.#limiters.set(sender.id, limiter);
    }
    const verdict = limiter.take(now);
    if (verdict === "accept") return true;
    if (verdict === "drop-and-notify") {
      this.send(socket, errorFrame("rate-limited", `more than ${this.#config.rate.perSecond} messages/s; dropped`));
    } else if (verdict === "flooding") {
      this.#remove(sender.id);
      this.close(socket, CloseCode.flooding, "flooding");
    }
    return false;
  }

  #dispatch(socket: WebSocket, sender: PeerRow, receiver: PeerRow, message: Addressed): void {
    const now = Date.now();
    switch (message.type) {
      case "offer":
      case "key-mismatch":
        this.#relay.forward(socket, sender, receiver, message, now);
        break;
      case "answer":
        // Having answered, the sender has applied the offer: it can use the receiver's candidates.
        this.#relay.forward(socket, sender, receiver, message, now);
        this.#relay.ready(socket, sender, receiver);
        break;
      case "candidate":
        this.#relay.candidate(socket, sender, receiver, message, now);
        break;
      case "ready":
        this.#relay.ready(socket, sender, receiver);
        break;
      case "done":
        this.#relay.done(sender, receiver);
        break;
    }
  }

  // Delivery.

  /** Sends a frame to every connected peer but one. Away peers get no roster frames: their resumed welcome has the roster. */
  #announce(message: ServerMessage, except: string): void {
    const frame = JSON.stringify(message);
    for (const peer of this.#store.roster()) if (peer.id !== except) this.#toPeer(peer, frame);
  }

  /** Sends a frame to a connected peer; false when it is away (or, having stopped reading, is away from now). */
  #toPeer(receiver: PeerRow, frame: string): boolean {
    if (receiver.awayUntil !== null) return false;
    const socket = this.#socketOf(receiver);
    if (socket) return this.send(socket, frame);
    // Its socket is gone even if no close event said so yet: the peer is away from now.
    this.#markAway(receiver, Date.now());
    return false;
  }

  /** The open socket that currently speaks for a peer, if any. */
  #socketOf(peer: PeerRow): WebSocket | null {
    return this.openSockets(peer.conn)[0] ?? null;
  }
}

// Frames.

async function newSecret(): Promise<Secret> {
  const token = newResumeToken();
  return { token, tokenHash: await hashToken(token) };
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

/** Acks are a few dozen bytes: a frame much longer is not one, and is not parsed. */
const MAX_ACK_LENGTH = 128;

/** The nonce of a frame that is an `ack`, else null. */
function parseAck(data: string | ArrayBuffer): string | null {
  if (typeof data !== "string" || data.length > MAX_ACK_LENGTH) return null;
  const parsed = parseFrame(data);
  return "ok" in parsed && parsed.ok.type === "ack" ? parsed.ok.nonce : null;
}

/** The type of a rejected message, when it names one the protocol knows. */
function refOf(json: unknown): string | undefined {
  if (typeof json !== "object" || json === null || !("type" in json)) return undefined;
  return typeof json.type === "string" && CLIENT_MESSAGE_TYPES.has(json.type) ? json.type : undefined;
}
