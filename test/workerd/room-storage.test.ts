/**
 * Storage, checked inside the object: a room keeps nothing once its last peer
 * is gone, refused upgrades create nothing, and a room written by the previous
 * schema is migrated on wake without losing a peer.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hashToken } from "../../src/ids";
import { SCHEMA_VERSION } from "../../src/schema";
import { Peer, roomStub } from "./peer";

let rooms = 0;
const freshRoom = () => `storage-${Date.now().toString(36)}-${rooms++}`;

/** What the room's database holds: its schema entries and its alarm. */
function inside(room: string) {
  return runInDurableObject(roomStub(room), async (_, state) => ({
    schema: state.storage.sql
      .exec<{ type: string; name: string; sql: string | null }>(
        "SELECT type, name, sql FROM sqlite_master ORDER BY name",
      )
      .toArray(),
    alarm: await state.storage.getAlarm(),
  }));
}

const empty = { schema: [], alarm: null };

describe("room storage", () => {
  it("is deleted, alarm included, when the last peer leaves, and comes back with the next join", async () => {
    const room = freshRoom();
    const a = await Peer.join(room, { name: "Ann" });
    const b = await Peer.join(room, { name: "Bob" });
    await a.drain();
    a.send({ type: "candidate", to: b.welcome.id, candidate: { candidate: "c1" } }); // held, with its expiry alarm
    await a.drain();
    expect((await inside(room)).alarm).not.toBeNull();
    b.send({ type: "leave" });
    await b.closed;
    a.send({ type: "leave" });
    await a.closed;
    expect(await inside(room)).toEqual(empty);
    const c = await Peer.join(room, { name: "Cy" });
    expect(c.welcome.peers).toEqual([]);
    await evictDurableObject(roomStub(room));
    const d = await Peer.join(room);
    expect(d.welcome.peers).toEqual([{ id: c.welcome.id, name: "Cy" }]);
  });

  it("is deleted when the last peer expires", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    a.close(4000);
    await a.closed;
    await runInDurableObject(roomStub(room), (_, state) => {
      state.storage.sql.exec("UPDATE peers SET away_until = 1");
    });
    await evictDurableObject(roomStub(room));
    expect(await runDurableObjectAlarm(roomStub(room))).toBe(true);
    expect(await inside(room)).toEqual(empty);
  });

  it("is never created by a refused upgrade: a bad name, the join limit", async () => {
    const room = freshRoom();
    const badNames = await Promise.all(Array.from({ length: 25 }, () => Peer.open(room, { name: "\u0007" })));
    for (const peer of badNames) expect(await peer.next("error")).toMatchObject({ code: "bad-name" });
    expect(await inside(room)).toEqual(empty);
    // Spend the room's burst of 20 (8 join, 12 find it full), then empty it again.
    const spent = await Promise.all(Array.from({ length: 20 }, () => Peer.open(room)));
    const firsts = await Promise.all(spent.map((peer) => peer.next()));
    spent.forEach((peer, i) => {
      if (firsts[i]?.type === "welcome") peer.send({ type: "leave" });
    });
    await Promise.all(spent.map((peer) => peer.closed));
    expect(await inside(room)).toEqual(empty);
    const limited = await Peer.open(room);
    expect(await limited.next("error")).toMatchObject({ code: "rate-limited" });
    expect(await inside(room)).toEqual(empty);
  });
});

describe("schema versions", () => {
  /** The tables as the previous version of src/store.ts (schema 1, before versioning) made them. */
  const V1 = `
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
  const ANN = "AnnAnnAnnAnnAnnAnnAnn1";
  const BOB = "BobBobBobBobBobBobBob1";
  const TOKEN = "t".repeat(43);

  /** The schema, whitespace aside; sqlite_sequence stays behind in a migrated room (it may not be dropped). */
  const schemaOf = (entries: { type: string; name: string; sql: string | null }[]) =>
    entries
      .filter((entry) => entry.name !== "sqlite_sequence" && !entry.name.startsWith("_cf_"))
      .map((entry) => ({ ...entry, sql: entry.sql?.replace(/\s+/g, " ") ?? null }));

  it("migrates a room written by schema 1 on wake: its away peer resumes with its id and what was held", async () => {
    const room = freshRoom();
    const tokenHash = await hashToken(TOKEN);
    const later = Date.now() + 30_000;
    await runInDurableObject(roomStub(room), (_, state) => {
      const { sql } = state.storage;
      sql.exec(V1);
      sql.exec(
        "INSERT INTO peers (id, name, token_hash, conn, away_until) VALUES (?, 'Ann', ?, 'conn-ann', ?), (?, 'Bob', 'bob-hash', 'conn-bob', ?)",
        ANN,
        tokenHash,
        later,
        BOB,
        later,
      );
      const held = (receiver: string, sender: string | null, kind: string, isCandidate: number, frame: object) =>
        sql.exec(
          "INSERT INTO held (receiver, sender, kind, is_candidate, frame) VALUES (?, ?, ?, ?, ?)",
          receiver,
          sender,
          kind,
          isCandidate,
          JSON.stringify(frame),
        );
      held(ANN, BOB, "away", 0, { type: "offer", from: BOB, sdp: "held offer" });
      held(ANN, null, "away", 0, { type: "peer-joined", peer: { id: BOB, name: "Bob" } });
      held(ANN, BOB, "pair", 1, { type: "candidate", from: BOB, candidate: { candidate: "held candidate" } });
      sql.exec("INSERT INTO ice_issued (peer, at) VALUES (?, 1234)", ANN);
      sql.exec("INSERT INTO stats (key, value) VALUES ('pairs-connected', 3)");
    });
    // A deploy: the object restarts with the new code.
    await evictDurableObject(roomStub(room));

    const back = await Peer.join(room, { resume: TOKEN });
    expect(back.welcome).toMatchObject({ id: ANN, resumed: true, peers: [{ id: BOB, name: "Bob" }] });
    // The held offer is delivered; the held roster frame is not (the welcome carries the roster now).
    expect(await back.drain()).toEqual([{ type: "offer", from: BOB, sdp: "held offer" }]);
    back.send({ type: "ready", to: BOB });
    expect(await back.drain()).toEqual([{ type: "candidate", from: BOB, candidate: { candidate: "held candidate" } }]);

    const migrated = await inside(room);
    const version = await runInDurableObject(roomStub(room), (_, state) => ({
      meta: state.storage.sql.exec("SELECT key, value FROM meta").toArray(),
      iceIssuedAt: state.storage.sql.exec("SELECT ice_issued_at AS at FROM peers WHERE id = ?", ANN).one().at,
    }));
    expect(version).toEqual({ meta: [{ key: "schema", value: SCHEMA_VERSION }], iceIssuedAt: expect.any(Number) });
    // Exactly the schema a new room gets.
    const fresh = freshRoom();
    await Peer.join(fresh);
    expect(schemaOf(migrated.schema)).toEqual(schemaOf((await inside(fresh)).schema));
  });

  it("refuses to run on a schema newer than it knows, and says so, changing nothing", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    await runInDurableObject(roomStub(room), (_, state) => {
      state.storage.sql.exec("UPDATE meta SET value = ? WHERE key = 'schema'", SCHEMA_VERSION + 1);
    });
    await evictDurableObject(roomStub(room), { webSockets: "close" });
    await a.closed;
    const late = await Peer.open(room, { resume: a.welcome.resume });
    expect(await late.next()).toMatchObject({ type: "error", code: "internal" });
    await late.expectClose(1011);
    const meta = await runInDurableObject(roomStub(room), (_, state) =>
      state.storage.sql.exec("SELECT value FROM meta").one(),
    );
    expect(meta).toEqual({ value: SCHEMA_VERSION + 1 });
  });

  it("keeps a room it cannot load: an unreadable room is not an empty one", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    const b = await Peer.join(room);
    await a.next("peer-joined");
    // A candidate held for a pair that is not ready sets the room's alarm.
    a.send({ type: "candidate", to: b.welcome.id, candidate: null });
    await a.expectNothing();
    await runInDurableObject(roomStub(room), (_, state) => {
      state.storage.sql.exec("UPDATE meta SET value = ? WHERE key = 'schema'", SCHEMA_VERSION + 1);
    });
    await evictDurableObject(roomStub(room));
    await runDurableObjectAlarm(roomStub(room));
    b.send({ type: "ready", to: a.welcome.id });
    expect(await b.next()).toMatchObject({ type: "error", code: "internal" });
    // Its peers and what is held for them wait, untouched, for code that can read them.
    const kept = await runInDurableObject(roomStub(room), (_, state) => ({
      peers: state.storage.sql.exec("SELECT COUNT(*) AS n FROM peers").one().n,
      held: state.storage.sql.exec("SELECT COUNT(*) AS n FROM held").one().n,
    }));
    expect(kept).toEqual({ peers: 2, held: 1 });
  });
});
