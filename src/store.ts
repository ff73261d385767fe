/**
 * A room's durable state in the Durable Object's SQLite database. Everything
 * that must survive hibernation, eviction or a restart lives here; the
 * WebSockets' attachments only say which peer and connection a socket is.
 */

export interface PeerRow {
  readonly id: string;
  readonly name: string | null;
  /** The connection (socket tag) that currently speaks for this peer. */
  readonly conn: string;
  /** Null while connected; the expiry deadline (epoch ms) while away. */
  readonly awayUntil: number | null;
}

/**
 * Why a frame is held:
 * - `pair`: a candidate waiting until its receiver is ready for its sender;
 * - `away`: any frame waiting for an away receiver to resume.
 */
export type HoldKind = "pair" | "away";

type PeerRecord = {
  id: string;
  name: string | null;
  conn: string;
  away_until: number | null;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS peers (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  name TEXT,
  token_hash TEXT NOT NULL UNIQUE,
  conn TEXT NOT NULL,
  away_until INTEGER
);
CREATE TABLE IF NOT EXISTS readiness (
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  PRIMARY KEY (receiver, sender)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS held (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  receiver TEXT NOT NULL,
  sender TEXT,
  kind TEXT NOT NULL CHECK (kind IN ('pair', 'away')),
  is_candidate INTEGER NOT NULL,
  frame TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS held_by_queue ON held (receiver, kind, sender, seq);
CREATE TABLE IF NOT EXISTS connected (
  low TEXT NOT NULL,
  high TEXT NOT NULL,
  PRIMARY KEY (low, high)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ice_issued (
  peer TEXT PRIMARY KEY,
  at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`;

const PEER_COLUMNS = "id, name, conn, away_until";

function toPeer(record: PeerRecord): PeerRow {
  return { id: record.id, name: record.name, conn: record.conn, awayUntil: record.away_until };
}

/** Peer ids are base64url, so a newline cannot occur inside one. */
const readyKey = (receiver: string, sender: string) => `${receiver}\n${sender}`;

/** One held queue: a pair's (`sender` given) or all of an away peer's. */
function selectQueue(receiver: string, kind: HoldKind, sender?: string): { where: string; bindings: string[] } {
  return sender === undefined
    ? { where: "receiver = ? AND kind = ?", bindings: [receiver, kind] }
    : { where: "receiver = ? AND kind = ? AND sender = ?", bindings: [receiver, kind, sender] };
}

export class RoomStore {
  /**
   * Write-through copies of the two tables every relayed frame consults,
   * loaded once per wake: SQL stays the record, and every write below goes
   * to both, so a frame costs no query.
   */
  readonly #peers = new Map<string, PeerRow>();
  readonly #ready = new Set<string>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
    for (const record of sql.exec<PeerRecord>(`SELECT ${PEER_COLUMNS} FROM peers ORDER BY seq`)) {
      this.#peers.set(record.id, toPeer(record));
    }
    for (const row of sql.exec<{ receiver: string; sender: string }>("SELECT receiver, sender FROM readiness")) {
      this.#ready.add(readyKey(row.receiver, row.sender));
    }
  }

  peer(id: string): PeerRow | null {
    return this.#peers.get(id) ?? null;
  }

  peerByTokenHash(tokenHash: string): PeerRow | null {
    const rows = this.sql.exec<{ id: string }>("SELECT id FROM peers WHERE token_hash = ?", tokenHash).toArray();
    return rows[0] ? this.peer(rows[0].id) : null;
  }

  /** Every peer, connected or away, in join order. */
  roster(): PeerRow[] {
    return [...this.#peers.values()];
  }

  count(): number {
    return this.#peers.size;
  }

  addPeer(peer: { id: string; name: string | null; tokenHash: string; conn: string }): void {
    this.sql.exec(
      "INSERT INTO peers (id, name, token_hash, conn, away_until) VALUES (?, ?, ?, ?, NULL)",
      peer.id,
      peer.name,
      peer.tokenHash,
      peer.conn,
    );
    this.#peers.set(peer.id, { id: peer.id, name: peer.name, conn: peer.conn, awayUntil: null });
  }

  /** A resume: the peer is connected again, on a new connection with a new token. */
  reconnect(id: string, tokenHash: string, conn: string): void {
    this.sql.exec("UPDATE peers SET token_hash = ?, conn = ?, away_until = NULL WHERE id = ?", tokenHash, conn, id);
    const peer = this.#peers.get(id);
    if (peer) this.#peers.set(id, { ...peer, conn, awayUntil: null });
  }

  markAway(id: string, until: number): void {
    const peer = this.#peers.get(id);
    if (!peer || peer.awayUntil !== null) return;
    this.sql.exec("UPDATE peers SET away_until = ? WHERE id = ?", until, id);
    this.#peers.set(id, { ...peer, awayUntil: until });
  }

  /** The earliest away deadline, for the room's one alarm. */
  nextDeadline(): number | null {
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
    this.sql.exec("DELETE FROM peers WHERE id = ?", id);
    this.sql.exec("DELETE FROM readiness WHERE receiver = ? OR sender = ?", id, id);
    this.sql.exec("DELETE FROM connected WHERE low = ? OR high = ?", id, id);
    this.sql.exec("DELETE FROM held WHERE receiver = ? OR sender = ?", id, id);
    this.sql.exec("DELETE FROM ice_issued WHERE peer = ?", id);
    this.#peers.delete(id);
    for (const other of this.#peers.keys()) {
      this.#ready.delete(readyKey(id, other));
      this.#ready.delete(readyKey(other, id));
    }
  }

  isReady(receiver: string, sender: string): boolean {
    return this.#ready.has(readyKey(receiver, sender));
  }

  markReady(receiver: string, sender: string): void {
    const key = readyKey(receiver, sender);
    if (this.#ready.has(key)) return;
    this.sql.exec("INSERT OR IGNORE INTO readiness (receiver, sender) VALUES (?, ?)", receiver, sender);
    this.#ready.add(key);
  }

  /** How many frames one queue holds: a pair's (`sender` given) or an away peer's. */
  heldCount(receiver: string, kind: HoldKind, sender?: string): number {
    const queue = selectQueue(receiver, kind, sender);
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM held WHERE ${queue.where}`, ...queue.bindings).one()
      .n;
  }

  hold(receiver: string, sender: string | null, kind: HoldKind, frame: string, isCandidate: boolean): void {
    this.sql.exec(
      "INSERT INTO held (receiver, sender, kind, is_candidate, frame) VALUES (?, ?, ?, ?, ?)",
      receiver,
      sender,
      kind,
      isCandidate ? 1 : 0,
      frame,
    );
  }

  /** Removes and returns one queue's frames in the order they were held. */
  takeHeld(receiver: string, kind: HoldKind, sender?: string): string[] {
    const queue = selectQueue(receiver, kind, sender);
    const frames = this.sql
      .exec<{ frame: string }>(`SELECT frame FROM held WHERE ${queue.where} ORDER BY seq`, ...queue.bindings)
      .toArray()
      .map((row) => row.frame);
    this.sql.exec(`DELETE FROM held WHERE ${queue.where}`, ...queue.bindings);
    return frames;
  }

  /** Drops every candidate held between two peers, in both directions; returns how many. */
  dropPairCandidates(a: string, b: string): number {
    return this.sql.exec(
      "DELETE FROM held WHERE is_candidate = 1 AND ((receiver = ? AND sender = ?) OR (receiver = ? AND sender = ?))",
      a,
      b,
      b,
      a,
    ).rowsWritten;
  }

  /** Records that a pair is connected; true the first time. */
  markConnected(a: string, b: string): boolean {
    const [low, high] = a < b ? [a, b] : [b, a];
    return this.sql.exec("INSERT OR IGNORE INTO connected (low, high) VALUES (?, ?)", low, high).rowsWritten > 0;
  }

  /** When the peer was last issued TURN credentials (epoch ms), if ever. */
  iceIssuedAt(id: string): number | null {
    return this.sql.exec<{ at: number }>("SELECT at FROM ice_issued WHERE peer = ?", id).toArray()[0]?.at ?? null;
  }

  setIceIssuedAt(id: string, at: number): void {
    this.sql.exec("INSERT OR REPLACE INTO ice_issued (peer, at) VALUES (?, ?)", id, at);
  }

  bumpStat(key: string, by: number): void {
    this.sql.exec(
      "INSERT INTO stats (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
      key,
      by,
    );
  }

  stats(): Record<string, number> {
    const rows = this.sql.exec<{ key: string; value: number }>("SELECT key, value FROM stats").toArray();
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  }
}
