/**
 * The room's SQLite schema, versioned, with forward migrations: a deploy that
 * changes the tables migrates each live room the first time it wakes, inside
 * one transaction, so every room keeps its peers, their ids and tokens, and
 * what is held for them.
 *
 * The version lives in a `meta` table: Durable Object SQLite refuses
 * `PRAGMA user_version` (SQLITE_AUTH). Version 1 is the schema from before
 * versioning: it has `peers` and no `meta`. A room with neither has no
 * schema at all: rooms create theirs on their first admitted join, so that
 * refused upgrades leave nothing behind.
 *
 * To change the schema: bump SCHEMA_VERSION, make LATEST the new tables, and
 * add MIGRATIONS[old] that turns the old tables into exactly those (the tests
 * compare a migrated room's schema with a new room's).
 */

export const SCHEMA_VERSION = 2;

const META = `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;`;

const PEERS = `
CREATE TABLE peers (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  name TEXT,
  token_hash TEXT NOT NULL,
  conn TEXT NOT NULL,
  ip TEXT,
  away_until INTEGER,
  absence INTEGER NOT NULL,
  absence_at INTEGER NOT NULL,
  ice_issued_at INTEGER
) WITHOUT ROWID;`;

const HELD = `
CREATE TABLE held (
  seq INTEGER PRIMARY KEY,
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('pair', 'away')),
  is_candidate INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  held_at INTEGER NOT NULL,
  frame TEXT NOT NULL
);
CREATE INDEX held_by_queue ON held (receiver, kind, sender);`;

/**
 * Version 2. Row writes are what a room pays for, so: no AUTOINCREMENT (its
 * sqlite_sequence row is one more write per insert; a plain rowid still
 * grows), no secondary index on peers (the store keeps the few peers in
 * memory, so a join writes one row), and the TURN issue time in the peer's
 * own row.
 */
const LATEST = `
${META}
${PEERS}
CREATE TABLE readiness (
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  PRIMARY KEY (receiver, sender)
) WITHOUT ROWID;
${HELD}
CREATE TABLE connected (
  low TEXT NOT NULL,
  high TEXT NOT NULL,
  PRIMARY KEY (low, high)
) WITHOUT ROWID;
`;

/**
 * Version 1 to 2: peers gain their address and absence (counted from the
 * migration, as if they had just connected or dropped) and absorb
 * `ice_issued`; held frames gain their size and hold time (the migration's:
 * their expiry starts now); roster frames held for away peers are dropped
 * (a resumed welcome carries the roster now); `stats` goes (the
 * pair-connected log line counts instead).
 */
function fromV1(sql: SqlStorage, now: number): void {
  sql.exec("ALTER TABLE peers RENAME TO peers_v1");
  sql.exec(PEERS);
  sql.exec(
    `INSERT INTO peers (id, seq, name, token_hash, conn, ip, away_until, absence, absence_at, ice_issued_at)
     SELECT p.id, p.seq, p.name, p.token_hash, p.conn, NULL, p.away_until, 0, ?, i.at
     FROM peers_v1 p LEFT JOIN ice_issued i ON i.peer = p.id`,
    now,
  );
  sql.exec("ALTER TABLE held RENAME TO held_v1");
  sql.exec("DROP INDEX held_by_queue");
  sql.exec(HELD);
  sql.exec(
    `INSERT INTO held (seq, receiver, sender, kind, is_candidate, bytes, held_at, frame)
     SELECT seq, receiver, sender, kind, is_candidate, LENGTH(CAST(frame AS BLOB)), ?, frame
     FROM held_v1 WHERE sender IS NOT NULL`,
    now,
  );
  for (const table of ["peers_v1", "held_v1", "ice_issued", "stats"]) sql.exec(`DROP TABLE ${table}`);
  // AUTOINCREMENT's counters; the table itself may not be dropped.
  sql.exec("DELETE FROM sqlite_sequence");
  sql.exec(META);
}

/** MIGRATIONS[v] turns version v into version v + 1. */
const MIGRATIONS: Readonly<Record<number, (sql: SqlStorage, now: number) => void>> = { 1: fromV1 };

/** The room's schema version; null when it has no tables yet (or any more). */
export function schemaVersion(sql: SqlStorage): number | null {
  const tables = new Set(
    sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'peers')")
      .toArray()
      .map((row) => row.name),
  );
  if (tables.has("meta")) {
    const value = sql.exec("SELECT value FROM meta WHERE key = 'schema'").toArray()[0]?.value;
    if (typeof value !== "number") throw new Error("the room's meta table has no schema version");
    return value;
  }
  return tables.has("peers") ? 1 : null;
}

/** Creates the latest schema in a room that has none. */
export function createSchema(sql: SqlStorage): void {
  sql.exec(LATEST);
  sql.exec("INSERT INTO meta (key, value) VALUES ('schema', ?)", SCHEMA_VERSION);
}

/** Brings a room's tables from `version` to the latest; call inside a transaction. */
export function migrate(sql: SqlStorage, version: number, now: number): void {
  if (version > SCHEMA_VERSION) {
    // A rollback below a migration: this code cannot read what a newer one wrote.
    throw new Error(`the room's schema is version ${version}; this code knows up to ${SCHEMA_VERSION}`);
  }
  if (version === SCHEMA_VERSION) return;
  for (let from = version; from < SCHEMA_VERSION; from++) {
    const step = MIGRATIONS[from];
    if (!step) throw new Error(`no migration from schema version ${from}`);
    step(sql, now);
  }
  sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", SCHEMA_VERSION);
}
