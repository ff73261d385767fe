/**
 * What each message costs in SQL rows written (what Durable Object SQLite
 * bills), counted from every statement's cursor, and the one log line per
 * connected pair. A repeated `done` writes and logs nothing.
 */
import { runInDurableObject } from "cloudflare:test";
import { afterAll, expect, it, vi } from "vitest";
import { Peer, roomStub } from "./peer";

type Cursor = SqlStorageCursor<Record<string, SqlStorageValue>>;

/** Every cursor the room's statements made since the last reset. */
const cursors: Cursor[] = [];
let restore = () => {};

async function instrument(room: string): Promise<void> {
  await runInDurableObject(roomStub(room), (_, state) => {
    const proto: SqlStorage = Object.getPrototypeOf(state.storage.sql);
    const exec = proto.exec;
    proto.exec = function (this: SqlStorage, query: string, ...bindings: SqlStorageValue[]) {
      const cursor = exec.call(this, query, ...bindings);
      cursors.push(cursor);
      return cursor;
    } as SqlStorage["exec"];
    restore = () => {
      proto.exec = exec;
    };
  });
}

afterAll(() => restore());

/** Rows written while `step` ran (and the room handled what it sent). */
async function rowsWritten(step: () => Promise<unknown>): Promise<number> {
  cursors.length = 0;
  await step();
  return cursors.reduce((sum, cursor) => sum + cursor.rowsWritten, 0);
}

it("writes few rows per message, none for a repeated done, and logs one line per connected pair", async () => {
  const room = `cost-${Date.now().toString(36)}`;
  await instrument(room);
  const log = vi.spyOn(console, "log");
  const rows: Record<string, number> = {};
  const measure = async (label: string, step: () => Promise<unknown>) => {
    rows[label] = await rowsWritten(step);
  };
  const candidate = (to: string, n: number) => ({ type: "candidate", to, candidate: { candidate: `c${n}` } });

  let a = await Peer.join(room, { name: "placeholder" });
  a.send({ type: "leave" });
  await a.closed;
  await measure("join (first: creates the room)", async () => {
    a = await Peer.join(room, { name: "Ann" });
  });
  let b = a;
  await measure("join", async () => {
    b = await Peer.join(room, { name: "Bob" });
    await a.next("peer-joined");
  });
  await measure("offer", async () => {
    a.send({ type: "offer", to: b.welcome.id, sdp: "v=0" });
    await b.next("offer");
  });
  await measure("candidate held", async () => {
    a.send(candidate(b.welcome.id, 1));
    await a.drain();
  });
  await measure("answer (+1 held delivered)", async () => {
    b.send({ type: "answer", to: a.welcome.id, sdp: "v=0" });
    await a.next("answer");
    await b.next("candidate");
  });
  b.send(candidate(a.welcome.id, 2));
  await b.drain();
  await measure("ready (+1 held delivered)", async () => {
    a.send({ type: "ready", to: b.welcome.id });
    await a.next("candidate");
  });
  await measure("candidate delivered", async () => {
    a.send(candidate(b.welcome.id, 3));
    await b.next("candidate");
  });
  await measure("done (first)", async () => {
    a.send({ type: "done", to: b.welcome.id });
    await a.drain();
  });
  await measure("done (repeated, either side)", async () => {
    b.send({ type: "done", to: a.welcome.id });
    a.send({ type: "done", to: b.welcome.id });
    await b.drain();
    await a.drain();
  });
  await measure("disconnect (away)", async () => {
    a.close(4000);
    await a.closed;
    await b.drain();
  });
  await measure("resume", async () => {
    a = await Peer.join(room, { resume: a.welcome.resume });
  });
  await measure("leave", async () => {
    b.send({ type: "leave" });
    await b.closed;
    await a.next("peer-left");
  });
  await measure("leave (last: deletes the room)", async () => {
    a.send({ type: "leave" });
    await a.closed;
  });
  console.info(JSON.stringify(rows, null, 1));

  // Before (schema 1): join 4, candidate held 3, done 3 and then 1 per repeat (with a log line each), resume 2.
  expect(rows).toEqual({
    "join (first: creates the room)": 4, // its tables, the schema version and the peer
    join: 1,
    offer: 0,
    "candidate held": 2, // the row and its queue index
    "answer (+1 held delivered)": 2, // readiness, and the held row deleted
    "ready (+1 held delivered)": 2,
    "candidate delivered": 0,
    "done (first)": 1, // the connected pair
    "done (repeated, either side)": 0,
    "disconnect (away)": 1,
    resume: 1,
    leave: 4, // the peer, its readiness both ways, its connected pair
    "leave (last: deletes the room)": 1, // then deleteAll
  });
  const lines = log.mock.calls.map((call) => String(call[0])).filter((line) => line.includes("pair-connected"));
  expect(lines.map((line) => JSON.parse(line))).toEqual([
    { event: "pair-connected", dropped: 0, room: expect.any(String) },
  ]);
});
