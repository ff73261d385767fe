/**
 * A room's durable state in the Durable Object's SQLite database. Everything
 * that must survive hibernation, eviction or a restart lives here; the
 * WebSockets' attachments only say which peer and connection a socket is.
 *
 * SQL is the record. Memory holds write-through copies of what every frame
 * consults (peers, readiness, connected pairs, and how much is held where),
 * loaded once per wake, so relaying costs no query. The room runs every
 * change inside one SQLite transaction and, when one fails, reloads these
 * copies from what SQL rolled back to (load).
 *
 * A room without peers has no tables: they are created on the first admitted
 * join (addPeer) and the room deletes its whole storage when its last peer is
 * gone (then it calls forget), so every room name ever tried costs nothing.
 */
import { createSchema, migrate, schemaVersion } from "./schema";

export interface PeerRow {
  readonly id: string;
  readonly name: string | null;
  /** The connection (socket tag) that currently speaks for this peer. */
  readonly conn: string;
  /** The client address it joined or last resumed from (CF-Connecting-IP), if known. */
  readonly ip: string | null;
  /** Null while connected; the expiry deadline (epoch ms) while away. */
  readonly awayUntil: number | null;
  /** Its absence (ms, see src/seats.ts) as of `absenceAt`, when it last connected or dropped. */
  readonly absence: number;
  readonly absenceAt: number;
}

/**
 * Why a frame is held:
 * - `pair`: a candidate waiting until its receiver is ready for its sender;
 * - `away`: a frame waiting for an away receiver to resume.
 */
export type HoldKind = "pair" | "away";

export interface HeldFrame {
  receiver: string;
  sender: string;
  kind: HoldKind;
  isCandidate: boolean;
  frame: string;
  /** UTF-8 size of `frame`. */
  bytes: number;
  at: number;
}

/** What a connect or a resume writes into a peer's row. */
export interface Connection {
  tokenHash: string;
  conn: string;
  ip: string | null;
  absence: number;
  at: number;
  /** When TURN credentials were issued with it; null when none were. */
  iceIssuedAt: number | null;
}

type PeerRecord = {
  id: string;
  seq: number;
  name: string | null;
  token_hash: string;
  conn: string;
  ip: string | null;
  away_until: number | null;
  absence: number;
  absence_at: number;
};

/** A held row as the accounting sees it. */
type HeldMeta = { seq: number; receiver: string; sender: string; kind: string; bytes: number; held_at: number };

const HELD_META = "seq, receiver, sender, kind, bytes, held_at";

/** Peer ids are base64url, so a newline cannot occur inside one. */
const key = (...parts: string[]) => parts.join("\n");
const pairKey = (a: string, b: string) => (a < b ? key(a, b) : key(b, a));

/** How much is held, by queue and by sender, and the oldest pair hold: answers the caps without a query. */
class HeldAccounts {
  readonly #queues = new Map<string, number>();
  readonly #senderBytes = new Map<string, number>();
  /** Pair holds by seq, in seq order (a Map keeps insertion order), so the first is the oldest. */
  readonly #pairHolds = new Map<number, number>();

  add(row: HeldMeta): void {
    const queue = key(row.receiver, row.kind, row.sender);
    this.#queues.set(queue, (this.#queues.get(queue) ?? 0) + 1);
    this.#senderBytes.set(row.sender, (this.#senderBytes.get(row.sender) ?? 0) + row.bytes);
    if (row.kind === "pair") this.#pairHolds.set(row.seq, row.held_at);
  }

  remove(row: HeldMeta): void {
    const queue = key(row.receiver, row.kind, row.sender);
    const left = (this.#queues.get(queue) ?? 0) - 1;
    if (left > 0) this.#queues.set(queue, left);
    else this.#queues.delete(queue);
    const bytes = (this.#senderBytes.get(row.sender) ?? 0) - row.bytes;
    if (bytes > 0) this.#senderBytes.set(row.sender, bytes);
    else this.#senderBytes.delete(row.sender);
    this.#pairHolds.delete(row.seq);
  }

  count(receiver: string, kind: HoldKind, sender: string): number {
    return this.#queues.get(key(receiver, kind, sender)) ?? 0;
  }

  bytesFrom(sender: string): number {
    return this.#senderBytes.get(sender) ?? 0;
  }

  oldestPairHold(): number | null {
    for (const at of this.#pairHolds.values()) return at;
    return null;
  }

  clear(): void {
    this.#queues.clear();
    this.#senderBytes.clear();
    this.#pairHolds.clear();
  }
}

export class RoomStore {
  /** Whether the room's tables exist. */
  #open = false;
  /**
   * Whether memory holds what SQL holds: false until a load succeeds. A room
   * that failed to load (a schema newer than this code, say) looks empty in
   * memory and is not: nothing may act on that.
   */
  #loaded = false;
  readonly #peers = new Map<string, PeerRow>();
  /** Token hash → peer id: tokens are looked up in memory, so peers need no second index. */
  readonly #tokens = new Map<string, string>();
  readonly #ready = new Set<string>();
  readonly #connected = new Set<string>();
  readonly #held = new HeldAccounts();
  #nextSeq = 1;

  constructor(private readonly sql: SqlStorage) {}

  /** (Re)reads everything from SQL, migrating an older schema first. Call inside a transaction. */
  load(now: number): void {
    this.forget();
    this.#loaded = false;
    const version = schemaVersion(this.sql);
    if (version === null) {
      this.#loaded = true;
      return;
    }
    migrate(this.sql, version, now);
    this.#open = true;
    const peers = this.sql.exec<PeerRecord>(
      "SELECT id, seq, name, token_hash, conn, ip, away_until, absence, absence_at FROM peers ORDER BY seq",
    );
    for (const record of peers) {
      this.#remember(record.token_hash, toPeer(record));
      this.#nextSeq = record.seq + 1;
    }
    for (const row of this.sql.exec<{ receiver: string; sender: string }>("SELECT receiver, sender FROM readiness")) {
      this.#ready.add(key(row.receiver, row.sender));
    }
    for (const row of this.sql.exec<{ low: string; high: string }>("SELECT low, high FROM connected")) {
      this.#connected.add(key(row.low, row.high));
    }
    for (const row of this.sql.exec<HeldMeta>(`SELECT ${HELD_META} FROM held ORDER BY seq`)) this.#held.add(row);
    this.#loaded = true;
  }

  /** Whether the room's tables exist. */
  get isOpen(): boolean {
    return this.#open;
  }

  get isLoaded(): boolean {
    return this.#loaded;
  }

  /** Forgets everything in memory: the room's storage was deleted. */
  forget(): void {
    this.#open = false;
    this.#peers.clear();
    this.#tokens.clear();
    this.#ready.clear();
    this.#connected.clear();
    this.#held.clear();
    this.#nextSeq = 1;
  }

  // Peers.

  peer(id: string): PeerRow | null {
    return this.#peers.get(id) ?? null;
  }

  peerByTokenHash(tokenHash: string): PeerRow | null {
    const id = this.#tokens.get(tokenHash);
    return id === undefined ? null : this.peer(id);
  }

  /** Every peer, connected or away, in join order. */
  roster(): PeerRow[] {
    return [...this.#peers.values()];
  }

  count(): number {
    return this.#peers.size;
  }

  /** A new peer, connected. Creates the room's tables if this is its first. */
  addPeer(peer: { id: string; name: string | null }, connection: Connection): void {
    if (!this.#open) {
      createSchema(this.sql);
      this.#open = true;
    }
    const { tokenHash, conn, ip, absence, at, iceIssuedAt } = connection;
    this.sql.exec(
      `INSERT INTO peers (id, seq, name, token_hash, conn, ip, away_until, absence, absence_at, ice_issued_at)
       VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
      peer.id,
      this.#nextSeq++,
      peer.name,
      tokenHash,
      conn,
      ip,
      absence,
      at,
      iceIssuedAt,
    );
    this.#remember(tokenHash, { ...peer, conn, ip, awayUntil: null, absence, absenceAt: at });
  }

  /** A resume: the peer is connected again, on a new connection with a new token. */
  reconnect(id: string, connection: Connection): void {
    const peer = this.#peers.get(id);
    if (!peer) return;
    const { tokenHash, conn, ip, absence, at, iceIssuedAt } = connection;
    this.sql.exec(
      `UPDATE peers SET token_hash = ?, conn = ?, ip = ?, away_until = NULL, absence = ?, absence_at = ?,
       ice_issued_at = COALESCE(?, ice_issued_at) WHERE id = ?`,
      tokenHash,
      conn,
      ip,
      absence,
      at,
      iceIssuedAt,
      id,
    );
    this.#forgetToken(id);
    this.#remember(tokenHash, { ...peer, conn, ip, awayUntil: null, absence, absenceAt: at });
  }

  markAway(id: string, until: number, absence: number, at: number): void {
    const peer = this.#peers.get(id);
    if (!peer || peer.awayUntil !== null) return;
    this.sql.exec("UPDATE peers SET away_until = ?, absence = ?, absence_at = ? WHERE id = ?", until, absence, at, id);
    this.#peers.set(id, { ...peer, awayUntil: until, absence, absenceAt: at });
  }

  /** The earliest away deadline. */
  nextAwayDeadline(): number | null {
    let earliest: number | null = null;
    for (const { awayUntil } of this.#peers.values()) {
      if (awayUntil !== null && (earliest === null || awayUntil < earliest)) earliest = awayUntil;
    }
    return earliest;
  }

  expiredBy(now: number): string[] {
    return this.roster()
      .filter((peer) => peer.awayUntil !== null && peer.awayUntil <= now)
      .map((peer) => peer.id);
  }

  /** Deletes a peer with its readiness, its pairs, and everything held for or from it. */
  removePeer(id: string): void {
    if (!this.#peers.has(id)) return;
    this.sql.exec("DELETE FROM peers WHERE id = ?", id);
    this.sql.exec("DELETE FROM readiness WHERE receiver = ? OR sender = ?", id, id);
    this.sql.exec("DELETE FROM connected WHERE low = ? OR high = ?", id, id);
    this.#deleteHeld("receiver = ? OR sender = ?", id, id);
    this.#forgetToken(id);
    this.#peers.delete(id);
    for (const other of this.#peers.keys()) {
      this.#ready.delete(key(id, other));
      this.#ready.delete(key(other, id));
      this.#connected.delete(pairKey(id, other));
    }
  }

  // Pairs.

  isReady(receiver: string, sender: string): boolean {
    return this.#ready.has(key(receiver, sender));
  }

  markReady(receiver: string, sender: string): void {
    const ready = key(receiver, sender);
    if (this.#ready.has(ready)) return;
    this.sql.exec("INSERT OR IGNORE INTO readiness (receiver, sender) VALUES (?, ?)", receiver, sender);
    this.#ready.add(ready);
  }

  /** Records that a pair is connected; true the first time, and only then does it write. */
  markConnected(a: string, b: string): boolean {
    const pair = pairKey(a, b);
    if (this.#connected.has(pair)) return false;
    const [low, high] = a < b ? [a, b] : [b, a];
    this.sql.exec("INSERT OR IGNORE INTO connected (low, high) VALUES (?, ?)", low, high);
    this.#connected.add(pair);
    return true;
  }

  // Held frames.

  /** How many frames one queue holds. */
  heldCount(receiver: string, kind: HoldKind, sender: string): number {
    return this.#held.count(receiver, kind, sender);
  }

  /** How many bytes a sender has held in the room. */
  heldBytesFrom(sender: string): number {
    return this.#held.bytesFrom(sender);
  }

  hold(held: HeldFrame): void {
    const seq = this.sql
      .exec<{ seq: number }>(
        `INSERT INTO held (receiver, sender, kind, is_candidate, bytes, held_at, frame)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
        held.receiver,
        held.sender,
        held.kind,
        held.isCandidate ? 1 : 0,
        held.bytes,
        held.at,
        held.frame,
      )
      .one().seq;
    this.#held.add({ ...held, seq, held_at: held.at });
  }

  /** Removes and returns one queue's frames in the order they were held: a pair's (`sender` given) or all of an away peer's. */
  takeHeld(receiver: string, kind: HoldKind, sender?: string): string[] {
    const where =
      sender === undefined
        ? { clause: "receiver = ? AND kind = ?", bindings: [receiver, kind] }
        : { clause: "receiver = ? AND kind = ? AND sender = ?", bindings: [receiver, kind, sender] };
    const rows = this.sql
      .exec<HeldMeta & { frame: string }>(
        `SELECT ${HELD_META}, frame FROM held WHERE ${where.clause} ORDER BY seq`,
        ...where.bindings,
      )
      .toArray();
    if (rows.length === 0) return [];
    this.sql.exec(`DELETE FROM held WHERE ${where.clause}`, ...where.bindings);
    for (const row of rows) this.#held.remove(row);
    return rows.map((row) => row.frame);
  }

  /** Drops every candidate held between two peers, in both directions; returns how many. */
  dropPairCandidates(a: string, b: string): number {
    const queues = [
      [a, "pair", b],
      [b, "pair", a],
      [a, "away", b],
      [b, "away", a],
    ] as const;
    // Nothing held between them (a repeated `done`, usually): no statement at all.
    if (queues.every(([receiver, kind, sender]) => this.#held.count(receiver, kind, sender) === 0)) return 0;
    return this.#deleteHeld(
      "is_candidate = 1 AND ((receiver = ? AND sender = ?) OR (receiver = ? AND sender = ?))",
      a,
      b,
      b,
      a,
    );
  }

  /** When the oldest candidate held for readiness was held, if any. */
  oldestPairHold(): number | null {
    return this.#held.oldestPairHold();
  }

  /** Drops candidates held for readiness since `before` or earlier; returns how many. */
  expirePairHolds(before: number): number {
    const oldest = this.#held.oldestPairHold();
    if (oldest === null || oldest > before) return 0;
    return this.#deleteHeld("kind = 'pair' AND held_at <= ?", before);
  }

  // TURN.

  /** When the peer was last issued TURN credentials (epoch ms), if ever. Read from SQL: renewals are rare. */
  iceIssuedAt(id: string): number | null {
    const rows = this.sql.exec<{ at: number | null }>("SELECT ice_issued_at AS at FROM peers WHERE id = ?", id);
    return rows.toArray()[0]?.at ?? null;
  }

  setIceIssuedAt(id: string, at: number): void {
    this.sql.exec("UPDATE peers SET ice_issued_at = ? WHERE id = ?", at, id);
  }

  #deleteHeld(where: string, ...bindings: SqlStorageValue[]): number {
    const rows = this.sql
      .exec<HeldMeta>(`DELETE FROM held WHERE ${where} RETURNING ${HELD_META}`, ...bindings)
      .toArray();
    for (const row of rows) this.#held.remove(row);
    return rows.length;
  }

  #remember(tokenHash: string, peer: PeerRow): void {
    this.#peers.set(peer.id, peer);
    this.#tokens.set(tokenHash, peer.id);
  }

  #forgetToken(id: string): void {
    for (const [tokenHash, owner] of this.#tokens) if (owner === id) this.#tokens.delete(tokenHash);
  }
}

function toPeer(record: PeerRecord): PeerRow {
  return {
    id: record.id,
    name: record.name,
    conn: record.conn,
    ip: record.ip,
    awayUntil: record.away_until,
    absence: record.absence,
    absenceAt: record.absence_at,
  };
}
