/**
 * Bad input: every error code, the rate limit, the flood close, and a fuzz
 * test that throws malformed frames at a room while two honest peers
 * negotiate. Bad input gets a clear error and costs nobody else anything.
 */
import { evictDurableObject } from "cloudflare:test";
import fc from "fast-check";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { ClientMessage } from "../../src/inbound";
import { CloseCode, type ServerMessage } from "../../src/protocol";
import { Peer, roomStub } from "./peer";

let rooms = 0;
const freshRoom = () => `abuse-${Date.now().toString(36)}-${rooms++}`;

async function pair(room: string) {
  const a = await Peer.join(room, { name: "Ann" });
  const b = await Peer.join(room, { name: "Bob" });
  await a.next("peer-joined");
  return { a, b };
}

const error = (code: string, ref?: string) =>
  ref === undefined
    ? { type: "error", code, message: expect.any(String) }
    : { type: "error", code, message: expect.any(String), ref };

describe("error frames", () => {
  for (const evicted of [false, true]) {
    it(`answers each kind of bad frame with its code, and keeps the socket open${evicted ? " (room evicted between frames)" : ""}`, async () => {
      const room = freshRoom();
      const { a, b } = await pair(room);
      const cases: [unknown, object][] = [
        ["{not json", error("bad-json")],
        ["42", error("bad-message")],
        ["null", error("bad-message")],
        [{ type: "shout", to: b.welcome.id }, error("bad-message")],
        [{ type: "offer", to: b.welcome.id }, error("bad-message", "offer")],
        [{ type: "offer", to: b.welcome.id, sdp: 5 }, error("bad-message", "offer")],
        [{ type: "candidate", to: b.welcome.id, candidate: "c" }, error("bad-message", "candidate")],
        [{ type: "candidate", to: b.welcome.id, candidate: { sdpMLineIndex: -1 } }, error("bad-message", "candidate")],
        [{ type: "ready" }, error("bad-message", "ready")],
        [{ type: "offer", to: "nobody-at-all", sdp: "x" }, error("unknown-peer", "offer")],
        [{ type: "done", to: a.welcome.id }, error("unknown-peer", "done")],
        [{ type: "answer", to: "x".repeat(65), sdp: "x" }, error("bad-message", "answer")],
        [JSON.stringify({ type: "offer", to: b.welcome.id, sdp: "x".repeat(64 * 1024) }), error("too-large")],
      ];
      for (const [frame, expected] of cases) {
        a.send(frame);
        expect(await a.next(), JSON.stringify(frame).slice(0, 80)).toEqual(expected);
        if (evicted) await evictDurableObject(roomStub(room));
      }
      a.socket.send(new Uint8Array([1, 2, 3]));
      expect(await a.next()).toEqual(error("binary-unsupported"));
      // Still an honest peer: its next message goes through, and b saw none of the above.
      a.send({ type: "offer", to: b.welcome.id, sdp: "ok" });
      await a.expectNothing();
      expect(await b.drain()).toEqual([{ type: "offer", from: a.welcome.id, sdp: "ok" }]);
    });
  }

  it("names the failing field in bad-message", async () => {
    const room = freshRoom();
    const { a, b } = await pair(room);
    a.send({ type: "offer", to: b.welcome.id, sdp: 5 });
    const frame = await a.next("error");
    expect(frame.message).toMatch(/sdp/);
  });

  it("accepts a frame of exactly 64 KiB", async () => {
    const room = freshRoom();
    const { a, b } = await pair(room);
    // Fields are capped well below 64 KiB; an unknown field (stripped, never relayed) fills the frame.
    const frame = { type: "offer", to: b.welcome.id, sdp: "v=0 big", pad: "" };
    frame.pad = "x".repeat(64 * 1024 - JSON.stringify(frame).length);
    expect(JSON.stringify(frame)).toHaveLength(64 * 1024);
    a.send(frame);
    await a.expectNothing();
    expect(await b.next()).toEqual({ type: "offer", from: a.welcome.id, sdp: "v=0 big" });
  });

  it("refuses bad names with bad-name and close 4003, telling nobody", async () => {
    const room = freshRoom();
    const { a, b } = await pair(room);
    for (const name of ["a\u0007b", "x".repeat(41), "😀".repeat(41)]) {
      const peer = await Peer.open(room, { name });
      expect(await peer.next()).toEqual(error("bad-name"));
      await peer.expectClose(CloseCode.badName);
    }
    await a.expectNothing();
    await b.expectNothing();
  });

  it("ignores a bad name sent with a valid resume", async () => {
    const room = freshRoom();
    const { a, b } = await pair(room);
    a.close();
    await a.closed;
    await b.drain();
    const back = await Peer.join(room, { resume: a.welcome.resume, name: "\u0000".repeat(50) });
    expect(back.welcome).toMatchObject({ id: a.welcome.id, resumed: true });
    const c = await Peer.join(room);
    expect(c.welcome.peers).toContainEqual({ id: a.welcome.id, name: "Ann" });
  });
});

describe("rate limit", () => {
  /**
   * After a flood the sender's bucket is empty, and a barrier would be dropped.
   * The room's `rate-limited` notice says it has reached the flood's first
   * drop (on a loaded machine that can take a while); the drops after it cost
   * the room almost nothing. Tokens come back with time (one per 20 ms) and no
   * event announces them, so this then waits for some, and drains with one
   * barrier.
   */
  async function drainAfterRefill(peer: Peer): Promise<ServerMessage[]> {
    const frames: ServerMessage[] = [];
    for (;;) {
      const frame = await peer.next();
      frames.push(frame);
      if (frame.type === "error" && frame.code === "rate-limited") break;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    return [...frames, ...(await peer.drain())];
  }

  it("drops messages above the burst, says rate-limited once, and spares other peers", async () => {
    const room = freshRoom();
    const { a, b } = await pair(room);
    b.send({ type: "ready", to: a.welcome.id });
    await b.drain();
    const started = Date.now();
    for (let n = 0; n < 300; n++) a.send({ type: "offer", to: b.welcome.id, sdp: String(n) });
    const toA = await drainAfterRefill(a);
    const seconds = Math.ceil((Date.now() - started) / 1000);
    const notices = toA.filter((frame) => frame.type === "error" && frame.code === "rate-limited");
    expect(notices.length).toBeGreaterThanOrEqual(1);
    expect(notices.length).toBeLessThanOrEqual(seconds); // at most one per second
    expect(toA.filter((frame) => !(frame.type === "error" && frame.code === "rate-limited"))).toEqual([]);
    const offers = (await b.drain()).map((frame) =>
      frame.type === "offer" && "sdp" in frame ? Number(frame.sdp) : -1,
    );
    // The burst passes whole and in order; after it, only what the refill allows, still in order.
    expect(offers.slice(0, 200)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(offers.length).toBeLessThan(300);
    expect(offers.every((n, i) => i === 0 || n > (offers[i - 1] ?? n))).toBe(true);
    // b, honest, is not limited by a's flood.
    for (let n = 0; n < 150; n++) b.send({ type: "offer", to: a.welcome.id, sdp: String(n) });
    await b.expectNothing();
  });

  it("closes a flooding peer with 4008 and removes it at once", async () => {
    const room = freshRoom();
    const { a, b } = await pair(room);
    for (let n = 0; n < 1_000; n++) a.send("{}");
    await a.expectClose(CloseCode.flooding);
    expect(await b.next()).toEqual({ type: "peer-left", id: a.welcome.id });
    const again = await Peer.join(room, { resume: a.welcome.resume });
    expect(again.welcome.resumed).toBe(false);
    expect(again.welcome.peers).toEqual([{ id: b.welcome.id, name: "Bob" }]);
  });
  it("keeps counting drops across a resume", async () => {
    const room = freshRoom();
    const { a, b } = await pair(room);
    for (let n = 0; n < 600; n++) a.send("{}"); // about 400 drops: not yet flooding
    await drainAfterRefill(a);
    const back = await Peer.join(room, { resume: a.welcome.resume });
    await a.expectClose(CloseCode.replaced);
    expect(back.welcome.resumed).toBe(true);
    // A fresh socket is no fresh bucket: the next 200 drops complete the 500.
    for (let n = 0; n < 300; n++) back.send("{}");
    await back.expectClose(CloseCode.flooding);
    expect(await b.next()).toEqual({ type: "peer-left", id: a.welcome.id });
  });
});

describe("fuzz", () => {
  const junkJson = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        type: fc.constantFrom("offer", "answer", "candidate", "ready", "done", "leave", "welcome", "", "OFFER"),
        to: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        sdp: fc.oneof(fc.string(), fc.integer(), fc.object()),
        candidate: fc.oneof(fc.string(), fc.object(), fc.record({ sdpMLineIndex: fc.double() })),
        from: fc.string(),
      },
      { requiredKeys: [] },
    ),
  );
  const junkFrame = fc.oneof(
    junkJson.map((json) => JSON.stringify(json) ?? "undefined"),
    fc.string(),
    fc.string({ unit: "binary" }),
    fc.uint8Array({ maxLength: 64 }),
    fc.constant(`"${"x".repeat(70_000)}"`),
  );
  /** A frame the protocol accepts from the attacker would be legitimate traffic, not junk. */
  function isJunk(frame: string | Uint8Array): boolean {
    if (typeof frame !== "string") return true;
    try {
      return !v.is(ClientMessage, JSON.parse(frame));
    } catch {
      return true;
    }
  }

  it("leaves two honest peers' handshake untouched by random malformed frames", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(junkFrame.filter(isJunk), { minLength: 1, maxLength: 60 }), async (junk) => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        const m = await Peer.join(room, { name: "Mallory" });
        await a.next("peer-joined");
        await b.next("peer-joined");
        const half = Math.floor(junk.length / 2);
        const throwJunk = (frames: (string | Uint8Array)[]) => {
          for (const frame of frames) m.socket.send(frame);
        };

        throwJunk(junk.slice(0, half));
        a.send({ type: "offer", to: b.welcome.id, sdp: "offer-sdp" });
        a.send({ type: "candidate", to: b.welcome.id, candidate: { candidate: "a1", sdpMid: "0" } });
        expect(await b.next()).toEqual({ type: "offer", from: a.welcome.id, sdp: "offer-sdp" });
        throwJunk(junk.slice(half));
        b.send({ type: "answer", to: a.welcome.id, sdp: "answer-sdp" });
        b.send({ type: "candidate", to: a.welcome.id, candidate: { candidate: "b1", sdpMid: "0" } });
        expect(await b.next()).toEqual({
          type: "candidate",
          from: a.welcome.id,
          candidate: { candidate: "a1", sdpMid: "0" },
        });
        expect(await a.next()).toEqual({ type: "answer", from: b.welcome.id, sdp: "answer-sdp" });
        a.send({ type: "ready", to: b.welcome.id });
        expect(await a.next()).toEqual({
          type: "candidate",
          from: b.welcome.id,
          candidate: { candidate: "b1", sdpMid: "0" },
        });
        a.send({ type: "done", to: b.welcome.id });
        b.send({ type: "done", to: a.welcome.id });

        // Every junk frame got exactly one error, and only the attacker saw them.
        const replies = await m.drain();
        expect(replies).toHaveLength(junk.length);
        expect(replies.every((frame) => frame.type === "error")).toBe(true);
        await a.expectNothing();
        await b.expectNothing();
        m.send({ type: "leave" });
        await m.closed;
      }),
      { numRuns: 25 },
    );
  });

  const hostileMessage = fc.record({
    type: fc.constantFrom("offer", "answer", "candidate", "ready", "done"),
    to: fc.constantFrom("honest-a", "honest-b", "self", "stranger"),
    sdp: fc.string({ maxLength: 200 }),
    candidate: fc.option(fc.record({ candidate: fc.string({ maxLength: 100 }), sdpMid: fc.constant("0") }), {
      nil: null,
    }),
  });

  it("keeps an honest pair's negotiation exact while a third peer sends them valid but hostile messages", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostileMessage, { minLength: 1, maxLength: 60 }), async (hostile) => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        const m = await Peer.join(room, { name: "Mallory" });
        await a.next("peer-joined");
        await b.next("peer-joined");
        const ids = { "honest-a": a.welcome.id, "honest-b": b.welcome.id, self: m.welcome.id, stranger: "stranger" };
        const attack = (messages: typeof hostile) => {
          for (const { type, to, sdp, candidate } of messages) {
            const target = ids[to];
            if (type === "offer" || type === "answer") m.send({ type, to: target, sdp });
            else if (type === "candidate") m.send({ type, to: target, candidate });
            else m.send({ type, to: target });
          }
        };
        /** The next frame that is not from the attacker: its offers and answers are legitimate traffic. */
        const honest = async (peer: Peer) => {
          for (;;) {
            const frame = await peer.next();
            if (!("from" in frame) || frame.from !== m.welcome.id) return frame;
          }
        };
        const half = Math.floor(hostile.length / 2);

        attack(hostile.slice(0, half));
        a.send({ type: "offer", to: b.welcome.id, sdp: "offer-sdp" });
        a.send({ type: "candidate", to: b.welcome.id, candidate: { candidate: "a1", sdpMid: "0" } });
        expect(await honest(b)).toEqual({ type: "offer", from: a.welcome.id, sdp: "offer-sdp" });
        attack(hostile.slice(half));
        b.send({ type: "answer", to: a.welcome.id, sdp: "answer-sdp" });
        b.send({ type: "candidate", to: a.welcome.id, candidate: { candidate: "b1", sdpMid: "0" } });
        expect(await honest(b)).toEqual({
          type: "candidate",
          from: a.welcome.id,
          candidate: { candidate: "a1", sdpMid: "0" },
        });
        expect(await honest(a)).toEqual({ type: "answer", from: b.welcome.id, sdp: "answer-sdp" });
        a.send({ type: "ready", to: b.welcome.id });
        expect(await honest(a)).toEqual({
          type: "candidate",
          from: b.welcome.id,
          candidate: { candidate: "b1", sdpMid: "0" },
        });

        const replies = await m.drain();
        expect(replies.every((frame) => frame.type === "error")).toBe(true);
        const fromOthers = (frames: ServerMessage[]) => frames.filter((f) => !("from" in f) || f.from !== m.welcome.id);
        expect(fromOthers(await a.drain())).toEqual([]);
        expect(fromOthers(await b.drain())).toEqual([]);
      }),
      { numRuns: 25 },
    );
  });
});
