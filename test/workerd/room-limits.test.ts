/**
 * The room's limits against the attacks that found them: join churn into one
 * room, a flood of relayed bytes toward one receiver (who might have stopped
 * reading), and held frames parked without end.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { RELAY_BYTES_PER_PAIR } from "../../src/limits";
import { CloseCode } from "../../src/protocol";
import { Peer, roomStub } from "./peer";

let rooms = 0;
const freshRoom = () => `limits-${Date.now().toString(36)}-${rooms++}`;

const queueFull = (ref: string, message: RegExp) => ({
  type: "error",
  code: "queue-full",
  message: expect.stringMatching(message),
  ref,
});

async function trio(room: string) {
  const a = await Peer.join(room, { name: "Ann" });
  const b = await Peer.join(room, { name: "Bob" });
  const c = await Peer.join(room, { name: "Cy" });
  for (const peer of [a, b, c]) await peer.drain();
  return { a, b, c };
}

describe("joins per room", () => {
  it("admits a burst of 20 joins and resumes, then answers rate-limited and closes with 4029", async () => {
    const room = freshRoom();
    const started = Date.now();
    // Joins a full room refuses still count: they cost the room its admission work.
    const peers = await Promise.all(Array.from({ length: 40 }, () => Peer.open(room)));
    const firsts = await Promise.all(peers.map((peer) => peer.next()));
    const seconds = Math.ceil((Date.now() - started) / 1000);
    const limited = peers.filter((_, i) => firsts[i]?.type === "error" && firsts[i]?.code === "rate-limited");
    const counted = 40 - limited.length;
    expect(counted).toBeGreaterThanOrEqual(20);
    expect(counted).toBeLessThanOrEqual(20 + seconds); // one more per second
    const kinds = firsts.map((frame) => (frame.type === "error" ? frame.code : frame.type));
    expect(kinds.filter((kind) => kind === "welcome")).toHaveLength(8);
    expect(kinds.every((kind) => ["welcome", "room-full", "rate-limited"].includes(kind))).toBe(true);
    for (const peer of limited) await peer.expectClose(CloseCode.joinRateLimited);
  });

  it("spends nothing on a join refused for its name, so bad names cannot lock a room", async () => {
    const room = freshRoom();
    const refused = await Promise.all(Array.from({ length: 30 }, () => Peer.open(room, { name: "\u0007" })));
    for (const peer of refused) expect(await peer.next("error")).toMatchObject({ code: "bad-name" });
    const honest = await Peer.join(room, { name: "Ann" });
    expect(honest.welcome.resumed).toBe(false);
  });
});

describe("relayed bytes per pair", () => {
  it(`relays at most ${RELAY_BYTES_PER_PAIR / 1024} KiB per 10 s from one sender to one receiver, and spares the others`, async () => {
    const room = freshRoom();
    const { a, b, c } = await trio(room);
    const sdp = (n: number) => `${n}:${"x".repeat(30 * 1024)}`;
    // A flood of 30 KiB offers toward b, as fast as the rate limit lets them through.
    for (let n = 0; n < 10; n++) a.send({ type: "offer", to: b.welcome.id, sdp: sdp(n) });
    expect(await a.drain()).toEqual(Array.from({ length: 8 }, () => queueFull("offer", /64 KiB per 10 s/)));
    expect((await b.drain()).map((frame) => (frame.type === "offer" && "sdp" in frame ? frame.sdp : null))).toEqual([
      sdp(0),
      sdp(1),
    ]);
    // c's budget toward b, and a's toward c, are their own.
    c.send({ type: "offer", to: b.welcome.id, sdp: sdp(100) });
    a.send({ type: "offer", to: c.welcome.id, sdp: sdp(200) });
    expect(await a.drain()).toEqual([]);
    expect(await c.drain()).toEqual([{ type: "offer", from: a.welcome.id, sdp: sdp(200) }]);
    expect(await b.drain()).toEqual([{ type: "offer", from: c.welcome.id, sdp: sdp(100) }]);
  });
});

describe("held frames", () => {
  const candidate = (to: string, n: number) => ({
    type: "candidate",
    to,
    candidate: { candidate: `${n}:${"c".repeat(900)}`, sdpMid: "0" },
  });

  it("holds at most 128 KiB from one sender (1 MiB per room of 8), and spares the others' shares", async () => {
    const room = freshRoom();
    const a = await Peer.join(room, { name: "Ann" });
    const receivers = [await Peer.join(room), await Peer.join(room), await Peer.join(room)];
    for (const peer of [a, ...receivers]) await peer.drain();
    // As the room stores each one: the relayed frame, `to` replaced by `from`.
    const { to: _, ...relayed } = { ...candidate("", 100), from: a.welcome.id };
    const size = JSON.stringify(relayed).length;
    const fit = Math.floor((128 * 1024) / size);
    // Nobody is ready for a: every candidate is held, 50 toward each receiver (within each pair's budget).
    let sent = 0;
    for (const receiver of receivers) {
      for (let n = 0; n < 50; n++, sent++) a.send(candidate(receiver.welcome.id, 100 + sent));
    }
    const refused = await a.drain();
    expect(refused).toEqual(Array.from({ length: sent - fit }, () => queueFull("candidate", /128 KiB of your frames/)));
    const held = await runInDurableObject(roomStub(room), (_, state) =>
      state.storage.sql.exec<{ n: number; bytes: number }>("SELECT COUNT(*) AS n, SUM(bytes) AS bytes FROM held").one(),
    );
    expect(held).toEqual({ n: fit, bytes: fit * size });
    // Another sender's share is untouched.
    const [first, second] = receivers;
    if (!first || !second) throw new Error("no receivers");
    first.send(candidate(second.welcome.id, 1));
    await first.expectNothing();
  });

  it("expires candidates held for a pair that never gets ready, on the room's alarm", async () => {
    const room = freshRoom();
    const a = await Peer.join(room, { name: "Ann" });
    const b = await Peer.join(room, { name: "Bob" });
    await a.drain();
    const before = Date.now();
    a.send(candidate(b.welcome.id, 1));
    await a.expectNothing();
    // Nobody is away: the alarm is for the held candidate, a grace period after it was held.
    const alarm = await runInDurableObject(roomStub(room), (_, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThanOrEqual(before + 30_000);
    expect(alarm).toBeLessThanOrEqual(Date.now() + 30_000);
    await runInDurableObject(roomStub(room), (_, state) => {
      state.storage.sql.exec("UPDATE held SET held_at = 1");
    });
    await evictDurableObject(roomStub(room));
    expect(await runDurableObjectAlarm(roomStub(room))).toBe(true);
    const count = await runInDurableObject(roomStub(room), async (_, state) => ({
      held: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM held").one().n,
      alarm: await state.storage.getAlarm(),
    }));
    expect(count).toEqual({ held: 0, alarm: null });
    b.send({ type: "ready", to: a.welcome.id });
    await b.expectNothing();
    await a.expectNothing();
  });
});
