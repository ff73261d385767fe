/**
 * The shell around the room's handlers: an error boundary that logs one
 * structured line, answers `internal`, and leaves storage and memory as they
 * were (so nobody is ever half-removed and the room keeps working), and a
 * quiet close after a close that had no handshake.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CloseCode } from "../../src/protocol";
import type { Room } from "../../src/room";
import { Peer, roomStub } from "./peer";
import { failNext } from "./sql-failure";

let rooms = 0;
const freshRoom = () => `shell-${Date.now().toString(36)}-${rooms++}`;

afterEach(() => {
  vi.restoreAllMocks();
});

/** The room's internal-error lines. */
function errorLines(spy: { mock: { calls: unknown[][] } }): unknown[] {
  return spy.mock.calls.map((call) => String(call[0])).map((line) => JSON.parse(line));
}

const internalError = (handler: string) => ({
  event: "internal-error",
  handler,
  error: "Error",
  message: "disk on fire",
  at: expect.any(String),
});

async function rows(room: string) {
  return runInDurableObject(roomStub(room), (_, state) => ({
    peers: state.storage.sql.exec<{ id: string }>("SELECT id FROM peers ORDER BY seq").toArray(),
    readiness: state.storage.sql.exec("SELECT receiver, sender FROM readiness").toArray(),
  }));
}

describe("error boundary", () => {
  it("answers internal when a message handler throws mid-removal, and leaves the peer whole", async () => {
    const room = freshRoom();
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const a = await Peer.join(room, { name: "Ann" });
    const b = await Peer.join(room, { name: "Bob" });
    await a.drain();
    a.send({ type: "ready", to: b.welcome.id });
    await a.drain();
    // a's leave deletes its peer row, then fails deleting its readiness.
    await failNext(room, "DELETE FROM readiness");
    a.send({ type: "leave" });
    expect(await a.next()).toEqual({ type: "error", code: "internal", message: expect.any(String) });
    expect(errorLines(error)).toEqual([internalError("webSocketMessage")]);
    // Nobody was told anything, and nothing changed: a is still there, whole.
    await b.expectNothing();
    expect(await rows(room)).toEqual({
      peers: [{ id: a.welcome.id }, { id: b.welcome.id }],
      readiness: [{ receiver: a.welcome.id, sender: b.welcome.id }],
    });
    // The room keeps working: a's next message is handled, and the leave, again, goes through.
    b.send({ type: "offer", to: a.welcome.id, sdp: "still here" });
    expect(await a.next()).toEqual({ type: "offer", from: b.welcome.id, sdp: "still here" });
    a.send({ type: "leave" });
    await a.expectClose(CloseCode.left);
    expect(await b.next()).toEqual({ type: "peer-left", id: a.welcome.id });
    expect(await rows(room)).toEqual({ peers: [{ id: b.welcome.id }], readiness: [] });
  });

  it("refuses a join whose admission throws with internal and 1011, leaving nothing behind", async () => {
    const room = freshRoom();
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    await failNext(room, "INSERT INTO peers");
    const failed = await Peer.open(room, { name: "Ann" });
    expect(await failed.next()).toEqual({ type: "error", code: "internal", message: expect.any(String) });
    await failed.expectClose(1011);
    expect(errorLines(error)).toEqual([internalError("fetch")]);
    // The schema the join created rolled back with it.
    const schema = await runInDurableObject(roomStub(room), (_, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master").toArray(),
    );
    expect(schema).toEqual([]);
    const a = await Peer.join(room, { name: "Ann" });
    expect(a.welcome.peers).toEqual([]);
  });

  it("retries a failed alarm later, and expires the peer when it works", async () => {
    const room = freshRoom();
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const a = await Peer.join(room);
    const b = await Peer.join(room);
    await a.drain();
    b.close(4000);
    await b.closed;
    await a.drain();
    await runInDurableObject(roomStub(room), (_, state) => {
      state.storage.sql.exec("UPDATE peers SET away_until = ? WHERE id = ?", Date.now(), b.welcome.id);
    });
    await evictDurableObject(roomStub(room));
    await failNext(room, "DELETE FROM peers");
    const before = Date.now();
    expect(await runDurableObjectAlarm(roomStub(room))).toBe(true);
    expect(errorLines(error)).toEqual([internalError("alarm")]);
    await a.expectNothing();
    const retry = await runInDurableObject(roomStub(room), (_, state) => state.storage.getAlarm());
    expect(retry).toBeGreaterThanOrEqual(before + 5_000);
    expect(await runDurableObjectAlarm(roomStub(room))).toBe(true);
    expect(await a.next()).toEqual({ type: "peer-left", id: b.welcome.id });
  });
});

describe("quiet close", () => {
  it("answers a close with a close frame, except after 1005, 1006 or 1015", async () => {
    const room = freshRoom();
    await Peer.join(room);
    const calls = await runInDurableObject(roomStub(room), async (instance: Room) => {
      const answered: Record<number, unknown[][]> = {};
      for (const code of [1000, 1001, 4000, 1005, 1006, 1015]) {
        const { 1: server } = new WebSocketPair();
        server.accept();
        const close = vi.spyOn(server, "close");
        await instance.webSocketClose(server, code, "bye");
        answered[code] = close.mock.calls;
      }
      return answered;
    });
    expect(calls).toEqual({
      1000: [[1000, "bye"]],
      1001: [[1001, "bye"]],
      4000: [[4000, "bye"]],
      1005: [],
      1006: [],
      1015: [],
    });
  });
});
