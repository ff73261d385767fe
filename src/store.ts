/**
 * A room's durable state in the Durable Object's SQLite database. Everything
 * that must survive hibernation, eviction or a restart lives here; the
 * WebSockets' attachments only say which peer and connection a socket is.
 */

export interface PeerRow {
  id: string;
  name: string | null;
  /** The connection (socket tag) that currently speaks for this peer. */
  conn: string;
  /** Null while connected; the expiry deadline (epoch ms) while away. */
  awayUntil: number | null;
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
CREATE TABLE IF NOT EXISTS stats (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`;

const PEER_COLUMNS = "id, name, conn, away_until";

function toPeer(record: PeerRecord): PeerRow {
  return { id: record.id, name: record.name, conn: record.conn, awayUntil: record.away_until };
}

/** One held queue: a pair's (`sender` given) or all of an away peer's. */
function selectQueue(receiver: string, kind: HoldKind, sender?: string): { where: string; bindings: string[] } {
  return sender === undefined
    ? { where: "receiver = ? AND kind = ?", bindings: [receiver, kind] }
    : { where: "receiver = ? AND kind = ? AND sender = ?", bindings: [receiver, kind, sender] };
}

export class RoomStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  peer(id: string): PeerRow | null {
    const rows = this.sql.exec<PeerRecord>(`SELECT ${PEER_COLUMNS} FROM peers WHERE id = ?`, id).toArray();
    return rows[0] ? toPeer(rows[0]) : null;
  }

  peerByTokenHash(tokenHash: string): PeerRow | null {
    const rows = this.sql
      .exec<PeerRecord>(`SELECT ${PEER_COLUMNS} FROM peers WHERE token_hash = ?`, tokenHash)
      .toArray();
    return rows[0] ? toPeer(rows[0]) : null;
  }

  /** Every peer, connected or away, in join order. */
  roster(): PeerRow[] {
    return this.sql.exec<PeerRecord>(`SELECT ${PEER_COLUMNS} FROM peers ORDER BY seq`).toArray().map(toPeer);
  }

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM peers").one().n;
  }

  addPeer(peer: { id: string; name: string | null; tokenHash: string; conn: string }): void {
    this.sql.exec(
      "INSERT INTO peers (id, name, token_hash, conn, away_until) VALUES (?, ?, ?, ?, NULL)",
      peer.id,
      peer.name,
      peer.tokenHash,
      peer.conn,
    );
  }

  /** A resume: the peer is connected again, on a new connection with a new token. */
  reconnect(id: string, tokenHash: string, conn: string): void {
    this.sql.exec("UPDATE peers SET token_hash = ?, conn = ?, away_until = NULL WHERE id = ?", tokenHash, conn, id);
  }

  markAway(id: string, until: number): void {
    this.sql.exec("UPDATE peers SET away_until = ? WHERE id = ? AND away_until IS NULL", until, id);
  }

  /** The earliest away deadline, for the room's one alarm. */
  nextDeadline(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT MIN(away_until) AS at FROM peers").one().at;
  }

  expiredBy(now: number): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM peers WHERE away_until <= ? ORDER BY seq", now)
      .toArray()
      .map((row) => row.id);
  }

  /** Deletes a peer with its readiness, its pairs, and everything held for or from it. */
  removePeer(id: string): void {
    this.sql.exec("DELETE FROM peers WHERE id = ?", id);
    this.sql.exec("DELETE FROM readiness WHERE receiver = ? OR sender = ?", id, id);
    this.sql.exec("DELETE FROM connected WHERE low = ? OR high = ?", id, id);
    this.sql.exec("DELETE FROM held WHERE receiver = ? OR sender = ?", id, id);
  }

  isReady(receiver: string, sender: string): boolean {
    return (
      this.sql.exec("SELECT 1 FROM readiness WHERE receiver = ? AND sender = ?", receiver, sender).toArray().length > 0
    );
  }

  markReady(receiver: string, sender: string): void {
    this.sql.exec("INSERT OR IGNORE INTO readiness (receiver, sender) VALUES (?, ?)", receiver, sender);
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
