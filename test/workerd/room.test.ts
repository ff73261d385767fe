/**
 * Protocol v1, rule by rule. Every test runs twice: with the room live, and
 * with the room evicted between steps (its WebSockets hibernated, its memory
 * gone), which proves nothing the protocol needs lives only in memory.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CloseCode } from "../../src/protocol";
import type { Room } from "../../src/room";
import { Peer, roomStub } from "./peer";

let rooms = 0;
const freshRoom = () => `room-${Date.now().toString(36)}-${rooms++}`;

const offer = (to: string, sdp = "v=0 offer") => ({ type: "offer", to, sdp });
const answer = (to: string, sdp = "v=0 answer") => ({ type: "answer", to, sdp });
const candidate = (to: string, n: number) => ({
  type: "candidate",
  to,
  candidate: { candidate: `c${n}`, sdpMid: "0" },
});
const received = (from: string, n: number) => ({
  type: "candidate",
  from,
  candidate: { candidate: `c${n}`, sdpMid: "0" },
});

/** Ends a peer's socket the way a network blip does: no `leave`. */
async function dropConnection(peer: Peer, others: Peer[]): Promise<void> {
  peer.close(4000);
  await peer.closed;
  // The room has handled the close once any other peer's later frame comes back.
  for (const other of others) await other.drain();
}

/**
 * Rewrites away deadlines in storage, behind the room's back, then evicts the
 * room so that it reads them again on its next wake. 1 ms after the epoch is
 * "long past" (setAlarm refuses 0).
 */
async function setDeadlines(room: string, where: string, ...bindings: string[]): Promise<void> {
  const stub = roomStub(room);
  await runInDurableObject(stub, (_, state) => {
    state.storage.sql.exec(`UPDATE peers SET away_until = 1 WHERE ${where}`, ...bindings);
  });
  await evictDurableObject(stub);
}

/** The `pair-connected` lines the rooms logged since the spy was made. */
function pairLines(log: { mock: { calls: unknown[][] } }): unknown[] {
  return log.mock.calls
    .map((call) => String(call[0]))
    .filter((line) => line.includes('"pair-connected"'))
    .map((line) => JSON.parse(line));
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Ends every grace period and runs the room's alarm. */
async function expireGrace(room: string): Promise<void> {
  await setDeadlines(room, "away_until IS NOT NULL");
  expect(await runDurableObjectAlarm(roomStub(room))).toBe(true);
}

for (const evicted of [false, true]) {
  describe(evicted ? "protocol, room evicted between steps" : "protocol", () => {
    /** A point between two protocol steps: with eviction on, the room loses its memory here. */
    async function step(room: string): Promise<void> {
      if (evicted) await evictDurableObject(roomStub(room));
    }

    async function pair(room: string) {
      const a = await Peer.join(room, { name: "Ann" });
      const b = await Peer.join(room, { name: "Bob" });
      expect(await a.next("peer-joined")).toEqual({ type: "peer-joined", peer: { id: b.welcome.id, name: "Bob" } });
      await step(room);
      return { a, b };
    }

    /** A pair, then a third peer that both of them have seen join. */
    async function trio(room: string) {
      const { a, b } = await pair(room);
      const c = await Peer.join(room);
      await a.next("peer-joined");
      await b.next("peer-joined");
      return { a, b, c };
    }

    describe("welcome and roster", () => {
      it("welcomes the first peer with an id, a resume token, no peers and the ICE config", async () => {
        const room = freshRoom();
        const a = await Peer.join(room, { name: "  Ann  " });
        const { welcome } = a;
        expect(welcome).toEqual({
          type: "welcome",
          id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), // 128 bits
          resume: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), // 256 bits
          resumed: false,
          peers: [],
          iceServers: [{ urls: "stun:stun.cloudflare.com:3478" }],
          maxPeers: 8,
        });
        expect(welcome.resume).not.toContain(welcome.id);
      });

      it("lists earlier peers in join order to a newcomer, and announces it to them", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        const c = await Peer.join(room);
        expect(c.welcome.peers).toEqual([
          { id: a.welcome.id, name: "Ann" },
          { id: b.welcome.id, name: "Bob" },
        ]);
        expect(b.welcome.peers).toEqual([{ id: a.welcome.id, name: "Ann" }]);
        await step(room);
        const joined = { type: "peer-joined", peer: { id: c.welcome.id, name: null } };
        expect(await a.drain()).toEqual([joined]);
        expect(await b.drain()).toEqual([joined]);
        expect(await c.drain()).toEqual([]);
        expect(new Set([a.welcome.id, b.welcome.id, c.welcome.id]).size).toBe(3);
      });

      it("gives each peer its own id and token", async () => {
        const room = freshRoom();
        const peers = await Promise.all(Array.from({ length: 4 }, () => Peer.join(room)));
        expect(new Set(peers.map((p) => p.welcome.id)).size).toBe(4);
        expect(new Set(peers.map((p) => p.welcome.resume)).size).toBe(4);
        // Concurrent joins are ordered by the room: each roster is a prefix of the last one.
        const rosters = peers.map((p) => p.welcome.peers.map((info) => info.id)).sort((x, y) => x.length - y.length);
        expect(rosters.map((r) => r.length)).toEqual([0, 1, 2, 3]);
        for (let i = 1; i < rosters.length; i++)
          expect(rosters[i]?.slice(0, i - 1)).toEqual(rosters[i - 1]?.slice(0, i - 1));
      });
    });

    describe("relay", () => {
      it("relays offer, answer and candidates with a from set by the server", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        a.send({ ...offer(b.welcome.id), from: "forged", extra: { nested: true } });
        expect(await b.next()).toEqual({ type: "offer", from: a.welcome.id, sdp: "v=0 offer" });
        await step(room);
        b.send({ ...answer(a.welcome.id), from: a.welcome.id });
        expect(await a.next()).toEqual({ type: "answer", from: b.welcome.id, sdp: "v=0 answer" });
        await step(room);
        a.send({ type: "ready", to: b.welcome.id });
        a.send({ type: "candidate", to: b.welcome.id, candidate: null, from: "x" });
        expect(await b.next()).toEqual({ type: "candidate", from: a.welcome.id, candidate: null });
        expect(await a.drain()).toEqual([]);
      });

      it("never relays ready or done", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        a.send({ type: "ready", to: b.welcome.id });
        a.send({ type: "done", to: b.welcome.id });
        await a.drain();
        await step(room);
        await b.expectNothing();
      });
    });

    describe("ICE holding", () => {
      it("holds the offerer's candidates until the receiver sends its answer, in order", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        a.send(offer(b.welcome.id));
        for (let n = 1; n <= 3; n++) a.send(candidate(b.welcome.id, n));
        await a.expectNothing();
        await step(room);
        expect(await b.drain()).toEqual([{ type: "offer", from: a.welcome.id, sdp: "v=0 offer" }]);
        await step(room);
        b.send(answer(a.welcome.id));
        expect(await b.drain()).toEqual([
          received(a.welcome.id, 1),
          received(a.welcome.id, 2),
          received(a.welcome.id, 3),
        ]);
        expect(await a.next()).toEqual({ type: "answer", from: b.welcome.id, sdp: "v=0 answer" });
      });

      it("holds the answerer's candidates until the offerer sends ready, in order", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        a.send(offer(b.welcome.id));
        await b.next("offer");
        b.send(answer(a.welcome.id));
        b.send(candidate(a.welcome.id, 1));
        b.send(candidate(a.welcome.id, 2));
        await b.drain();
        await step(room);
        expect(await a.drain()).toEqual([{ type: "answer", from: b.welcome.id, sdp: "v=0 answer" }]);
        await step(room);
        a.send({ type: "ready", to: b.welcome.id });
        expect(await a.drain()).toEqual([received(b.welcome.id, 1), received(b.welcome.id, 2)]);
      });

      it("holds candidates sent even before the offer", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        a.send(candidate(b.welcome.id, 1));
        a.send(offer(b.welcome.id));
        a.send(candidate(b.welcome.id, 2));
        await a.expectNothing();
        expect(await b.drain()).toEqual([{ type: "offer", from: a.welcome.id, sdp: "v=0 offer" }]);
        await step(room);
        b.send(answer(a.welcome.id));
        expect(await b.drain()).toEqual([received(a.welcome.id, 1), received(a.welcome.id, 2)]);
      });

      it("passes candidates straight through once the pair is ready, in both directions", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        a.send(offer(b.welcome.id));
        await b.next("offer");
        b.send(answer(a.welcome.id));
        await a.next("answer");
        a.send({ type: "ready", to: b.welcome.id });
        await a.drain();
        await step(room);
        // Renegotiation and ICE restarts: readiness lasts.
        a.send(offer(b.welcome.id, "v=0 restart"));
        a.send(candidate(b.welcome.id, 7));
        await a.expectNothing();
        expect(await b.drain()).toEqual([
          { type: "offer", from: a.welcome.id, sdp: "v=0 restart" },
          received(a.welcome.id, 7),
        ]);
        b.send(candidate(a.welcome.id, 8));
        await b.expectNothing();
        expect(await a.drain()).toEqual([received(b.welcome.id, 8)]);
      });

      it("keeps readiness per ordered pair", async () => {
        const room = freshRoom();
        const { a, b, c } = await trio(room);
        b.send({ type: "ready", to: a.welcome.id }); // b is ready for a, not for c
        c.send(candidate(b.welcome.id, 1));
        a.send(candidate(b.welcome.id, 2));
        await c.drain();
        await a.drain();
        await step(room);
        expect(await b.drain()).toEqual([received(a.welcome.id, 2)]);
      });

      it("answers queue-full past 100 held candidates per pair, and delivers the 100", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        for (let n = 1; n <= 101; n++) a.send(candidate(b.welcome.id, n));
        expect(await a.drain()).toEqual([
          { type: "error", code: "queue-full", message: expect.any(String), ref: "candidate" },
        ]);
        await step(room);
        b.send({ type: "ready", to: a.welcome.id });
        const frames = await b.drain();
        expect(frames).toEqual(Array.from({ length: 100 }, (_, i) => received(a.welcome.id, i + 1)));
      });

      it("drops candidates held in both directions on done, and logs each pair once", async () => {
        const room = freshRoom();
        const log = vi.spyOn(console, "log");
        const { a, b } = await pair(room);
        a.send(candidate(b.welcome.id, 1)); // held: b is not ready for a
        b.send(candidate(a.welcome.id, 2)); // held: a is not ready for b
        b.send(candidate(a.welcome.id, 3));
        await a.drain();
        await b.drain();
        await step(room);
        a.send({ type: "done", to: b.welcome.id });
        b.send({ type: "done", to: a.welcome.id });
        a.send({ type: "done", to: b.welcome.id });
        await a.drain();
        await b.drain();
        await step(room);
        a.send({ type: "ready", to: b.welcome.id });
        b.send({ type: "ready", to: a.welcome.id });
        expect(await a.drain()).toEqual([]);
        expect(await b.drain()).toEqual([]);
        // One line for the pair, from its first done, counting what that done dropped.
        expect(pairLines(log)).toEqual([{ event: "pair-connected", dropped: 3, room: expect.any(String) }]);
      });

      it("drops what is held for a pair, both ways, once it is done, and logs it", async () => {
        const room = freshRoom();
        const log = vi.spyOn(console, "log");
        const { a, b } = await pair(room);
        a.send(offer(b.welcome.id));
        a.send(candidate(b.welcome.id, 1));
        a.send(candidate(b.welcome.id, 2));
        await b.next("offer");
        b.send(answer(a.welcome.id));
        expect(await b.drain()).toEqual([received(a.welcome.id, 1), received(a.welcome.id, 2)]);
        b.send(candidate(a.welcome.id, 3)); // held: a has not sent ready
        await b.drain();
        await step(room);
        a.send({ type: "done", to: b.welcome.id });
        expect(await a.drain()).toEqual([{ type: "answer", from: b.welcome.id, sdp: "v=0 answer" }]);
        a.send({ type: "ready", to: b.welcome.id });
        expect(await a.drain()).toEqual([]); // candidate 3 was dropped by done
        expect(pairLines(log)).toEqual([{ event: "pair-connected", dropped: 1, room: expect.any(String) }]);
      });
    });

    describe("leave", () => {
      it("tells everyone at once, closes with 1000, and kills the token", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        a.send({ type: "leave" });
        await a.expectClose(CloseCode.left);
        expect(await b.next()).toEqual({ type: "peer-left", id: a.welcome.id });
        await step(room);
        const again = await Peer.join(room, { resume: a.welcome.resume });
        expect(again.welcome.resumed).toBe(false);
        expect(again.welcome.id).not.toBe(a.welcome.id);
        expect(again.welcome.peers).toEqual([{ id: b.welcome.id, name: "Bob" }]);
      });

      it("forgets readiness and held candidates of a peer who left", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        a.send({ type: "ready", to: b.welcome.id });
        b.send({ type: "ready", to: a.welcome.id });
        await b.drain();
        const c = await Peer.join(room);
        await b.next("peer-joined");
        a.send(candidate(c.welcome.id, 1));
        a.send({ type: "leave" });
        await a.closed;
        await b.next("peer-left");
        await c.next("peer-left");
        await step(room);
        const count = await runInDurableObject(roomStub(room), (_, state) => ({
          held: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM held").one().n,
          readiness: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM readiness").one().n,
        }));
        expect(count).toEqual({ held: 0, readiness: 0 });
      });
    });

    describe("away and resume", () => {
      it("keeps an away peer invisible, holds what is sent to it, and delivers it in order on resume", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        await dropConnection(a, [b]);
        await step(room);
        b.send(offer(a.welcome.id, "from b"));
        b.send(candidate(a.welcome.id, 1)); // pair not ready: held per pair
        expect(await b.drain()).toEqual([]);
        const c = await Peer.join(room, { name: "Cy" });
        expect(c.welcome.peers.map((p) => p.id)).toEqual([a.welcome.id, b.welcome.id]);
        c.send(offer(a.welcome.id, "from c"));
        await c.drain();
        expect(await b.drain()).toEqual([{ type: "peer-joined", peer: { id: c.welcome.id, name: "Cy" } }]);
        await step(room);

        const back = await Peer.join(room, { resume: a.welcome.resume, name: "ignored" });
        expect(back.welcome).toEqual({
          ...a.welcome,
          resume: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
          resumed: true,
          peers: [
            { id: b.welcome.id, name: "Bob" },
            { id: c.welcome.id, name: "Cy" },
          ],
        });
        expect(back.welcome.resume).not.toBe(a.welcome.resume);
        // c's arrival is in the roster above, not in a held peer-joined.
        expect(await back.drain()).toEqual([
          { type: "offer", from: b.welcome.id, sdp: "from b" },
          { type: "offer", from: c.welcome.id, sdp: "from c" },
        ]);
        await step(room);
        back.send(answer(b.welcome.id));
        expect(await back.drain()).toEqual([received(b.welcome.id, 1)]);
        // Nobody was told anything about the disconnect or the resume.
        expect(await b.drain()).toEqual([{ type: "answer", from: a.welcome.id, sdp: "v=0 answer" }]);
        await c.expectNothing();
      });

      it("holds candidates for a ready pair in the away queue, and keeps readiness", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        a.send({ type: "ready", to: b.welcome.id });
        await a.drain();
        await dropConnection(a, [b]);
        await step(room);
        b.send(candidate(a.welcome.id, 1));
        b.send(candidate(a.welcome.id, 2));
        await b.drain();
        await step(room);
        const back = await Peer.join(room, { resume: a.welcome.resume });
        expect(await back.drain()).toEqual([received(b.welcome.id, 1), received(b.welcome.id, 2)]);
        b.send(candidate(a.welcome.id, 3));
        await b.drain();
        expect(await back.drain()).toEqual([received(b.welcome.id, 3)]);
      });

      it("sends an away peer no roster frames: its resumed welcome carries the roster", async () => {
        const room = freshRoom();
        const { a, b, c } = await trio(room);
        await dropConnection(a, [b, c]);
        c.send({ type: "leave" });
        await c.closed;
        expect(await b.drain()).toEqual([{ type: "peer-left", id: c.welcome.id }]);
        const d = await Peer.join(room, { name: "Dee" });
        expect(await b.drain()).toEqual([{ type: "peer-joined", peer: { id: d.welcome.id, name: "Dee" } }]);
        await step(room);
        const held = await runInDurableObject(roomStub(room), (_, state) =>
          state.storage.sql.exec("SELECT frame FROM held").toArray(),
        );
        expect(held).toEqual([]);
        const back = await Peer.join(room, { resume: a.welcome.resume });
        expect(back.welcome.resumed).toBe(true);
        expect(back.welcome.peers).toEqual([
          { id: b.welcome.id, name: "Bob" },
          { id: d.welcome.id, name: "Dee" },
        ]);
        expect(await back.drain()).toEqual([]);
      });

      it("drops what a peer that left had sent to an away peer", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        await dropConnection(a, [b]);
        b.send(offer(a.welcome.id));
        b.send({ type: "leave" });
        await b.closed;
        await step(room);
        const back = await Peer.join(room, { resume: a.welcome.resume });
        expect(back.welcome.peers).toEqual([]);
        expect(await back.drain()).toEqual([]);
      });

      it("makes a peer away when its socket is found dead, before any close event", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        // In one turn of the object: a's socket dies, then b's offer is dispatched, before
        // the runtime can deliver a close event for a.
        await runInDurableObject(roomStub(room), async (instance: Room, state) => {
          const socketOf = (id: string) =>
            state.getWebSockets().find((socket) => JSON.stringify(socket.deserializeAttachment()).includes(id));
          socketOf(a.welcome.id)?.close(4000, "gone");
          const bSocket = socketOf(b.welcome.id);
          if (!bSocket) throw new Error("no socket for b");
          await instance.webSocketMessage(bSocket, JSON.stringify(offer(a.welcome.id, "while dead")));
        });
        expect(await b.drain()).toEqual([]);
        await step(room);
        const back = await Peer.join(room, { resume: a.welcome.resume });
        expect(back.welcome.resumed).toBe(true);
        expect(await back.drain()).toEqual([{ type: "offer", from: b.welcome.id, sdp: "while dead" }]);
      });

      it("never accepts a used token again", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        await dropConnection(a, [b]);
        const back = await Peer.join(room, { resume: a.welcome.resume });
        expect(back.welcome.resumed).toBe(true);
        await step(room);
        const thief = await Peer.join(room, { resume: a.welcome.resume });
        expect(thief.welcome.resumed).toBe(false);
        expect(thief.welcome.id).not.toBe(a.welcome.id);
        // The resumed peer keeps its socket and just sees a newcomer.
        expect(await back.drain()).toEqual([{ type: "peer-joined", peer: { id: thief.welcome.id, name: null } }]);
      });

      it("joins an unknown token as a new peer", async () => {
        const room = freshRoom();
        const { b } = await pair(room);
        const stranger = await Peer.join(room, { resume: "x".repeat(43), name: "Sam" });
        expect(stranger.welcome.resumed).toBe(false);
        expect(await b.next()).toEqual({ type: "peer-joined", peer: { id: stranger.welcome.id, name: "Sam" } });
      });

      it("replaces a half-open socket: the old one closes with 4002", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        const back = await Peer.join(room, { resume: a.welcome.resume });
        expect(back.welcome).toMatchObject({ id: a.welcome.id, resumed: true });
        await a.expectClose(CloseCode.replaced);
        await step(room);
        b.send(offer(a.welcome.id));
        await b.drain();
        expect(await back.drain()).toEqual([{ type: "offer", from: b.welcome.id, sdp: "v=0 offer" }]);
        await b.expectNothing();
      });

      it("sets one alarm at the earliest away deadline", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        const before = Date.now();
        await dropConnection(a, [b]);
        await step(room);
        const alarm = await runInDurableObject(roomStub(room), (_, state) => state.storage.getAlarm());
        expect(alarm).toBeGreaterThanOrEqual(before + 30_000);
        expect(alarm).toBeLessThanOrEqual(Date.now() + 30_000);
        await Peer.join(room, { resume: a.welcome.resume });
        const cleared = await runInDurableObject(roomStub(room), (_, state) => state.storage.getAlarm());
        expect(cleared).toBeNull();
      });

      it("keeps the alarm at the earliest of several deadlines, and moves it on after an expiry", async () => {
        const room = freshRoom();
        const { a, b, c } = await trio(room);
        await dropConnection(a, [b, c]);
        await dropConnection(c, [b]);
        await step(room);
        const read = () =>
          runInDurableObject(roomStub(room), async (_, state) => ({
            alarm: await state.storage.getAlarm(),
            deadlines: state.storage.sql
              .exec<{ id: string; away_until: number }>("SELECT id, away_until FROM peers WHERE away_until IS NOT NULL")
              .toArray(),
          }));
        const { alarm, deadlines } = await read();
        const first = deadlines.find((row) => row.id === a.welcome.id)?.away_until;
        const second = deadlines.find((row) => row.id === c.welcome.id)?.away_until;
        expect(first).toBeLessThan(second ?? 0);
        expect(alarm).toBe(first);
        // Expire only a: the alarm moves on to c's deadline.
        await setDeadlines(room, "id = ?", a.welcome.id);
        expect(await runDurableObjectAlarm(roomStub(room))).toBe(true);
        expect(await b.next()).toEqual({ type: "peer-left", id: a.welcome.id });
        expect((await read()).alarm).toBe(second);
      });

      it("expires a due peer on the next join even before its alarm runs", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        await dropConnection(a, [b]);
        await setDeadlines(room, "id = ?", a.welcome.id);
        const late = await Peer.join(room, { resume: a.welcome.resume });
        expect(late.welcome.resumed).toBe(false);
        expect(late.welcome.peers).toEqual([{ id: b.welcome.id, name: "Bob" }]);
        expect(await b.drain()).toEqual([
          { type: "peer-left", id: a.welcome.id },
          { type: "peer-joined", peer: { id: late.welcome.id, name: null } },
        ]);
      });

      it("expires an away peer when its grace period ends: peer-left for all, token dead", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        await dropConnection(a, [b]);
        await step(room);
        await expireGrace(room);
        expect(await b.next()).toEqual({ type: "peer-left", id: a.welcome.id });
        await step(room);
        const late = await Peer.join(room, { resume: a.welcome.resume });
        expect(late.welcome.resumed).toBe(false);
        expect(late.welcome.peers).toEqual([{ id: b.welcome.id, name: "Bob" }]);
      });

      it("caps what each sender may hold for an away peer, and never expires the peer for it", async () => {
        const room = freshRoom();
        const { a, b, c } = await trio(room);
        await dropConnection(a, [b, c]);
        await step(room);
        // 8 peers: each sender's share of the 256 frames held for a is 256 / 7 = 36.
        for (let n = 0; n < 36; n++) b.send(offer(a.welcome.id, `b${n}`));
        expect(await b.drain()).toEqual([]);
        b.send(answer(a.welcome.id, "one too many"));
        expect(await b.drain()).toEqual([
          { type: "error", code: "queue-full", message: expect.stringMatching(/away.*36/), ref: "answer" },
        ]);
        await step(room);
        // b's flood took nothing from c's share, and nobody was told a left.
        c.send(offer(a.welcome.id, "from c"));
        expect(await c.drain()).toEqual([]);
        const back = await Peer.join(room, { resume: a.welcome.resume });
        expect(back.welcome).toMatchObject({ id: a.welcome.id, resumed: true });
        expect(await back.drain()).toEqual([
          ...Array.from({ length: 36 }, (_, n) => ({ type: "offer", from: b.welcome.id, sdp: `b${n}` })),
          { type: "offer", from: c.welcome.id, sdp: "from c" },
        ]);
        await b.expectNothing();
      });

      it("lets no churn of joins and leaves push an away peer out", async () => {
        const room = freshRoom();
        const { a, b } = await pair(room);
        await dropConnection(a, [b]);
        for (let n = 0; n < 15; n++) {
          const churn = await Peer.join(room, { name: `churn${n}` });
          churn.send(offer(a.welcome.id, `churn${n}`));
          churn.send({ type: "leave" });
          await churn.closed;
        }
        expect(await b.drain()).toHaveLength(30); // peer-joined and peer-left, 15 times
        await step(room);
        const back = await Peer.join(room, { resume: a.welcome.resume });
        expect(back.welcome).toMatchObject({
          id: a.welcome.id,
          resumed: true,
          peers: [{ id: b.welcome.id, name: "Bob" }],
        });
        // What the churners sent left with them.
        expect(await back.drain()).toEqual([]);
      });
    });

    describe("room-full", () => {
      it("refuses a ninth peer with room-full and close 4001, counting away peers", async () => {
        const room = freshRoom();
        const peers: Peer[] = [];
        for (let i = 0; i < 8; i++) peers.push(await Peer.join(room));
        for (const [i, peer] of peers.entries()) expect(await peer.drain()).toHaveLength(7 - i); // peer-joined
        const [first, ...rest] = peers;
        if (!first) throw new Error("no peers");
        await dropConnection(first, rest);
        await step(room);
        const ninth = await Peer.open(room, { name: "Nine" });
        expect(await ninth.next()).toEqual({ type: "error", code: "room-full", message: expect.any(String) });
        await ninth.expectClose(CloseCode.roomFull);
        for (const peer of rest) await peer.expectNothing();
      });
    });
  });
}

describe("restarts", () => {
  it("treats peers whose sockets did not survive a restart as away, so they can resume", async () => {
    const room = freshRoom();
    const a = await Peer.join(room, { name: "Ann" });
    const b = await Peer.join(room, { name: "Bob" });
    await a.next("peer-joined");
    // A deploy: the object goes away and takes every socket with it, with no close event.
    await evictDurableObject(roomStub(room), { webSockets: "close" });
    await a.closed;
    await b.closed;
    const backA = await Peer.join(room, { resume: a.welcome.resume });
    expect(backA.welcome).toMatchObject({ id: a.welcome.id, resumed: true });
    expect(backA.welcome.peers).toEqual([{ id: b.welcome.id, name: "Bob" }]);
    backA.send(offer(b.welcome.id));
    await backA.drain();
    const backB = await Peer.join(room, { resume: b.welcome.resume });
    expect(backB.welcome).toMatchObject({ id: b.welcome.id, resumed: true });
    expect(await backB.drain()).toEqual([{ type: "offer", from: a.welcome.id, sdp: "v=0 offer" }]);
  });

  it("expires peers that never come back after a restart", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    const b = await Peer.join(room);
    await a.next("peer-joined");
    await evictDurableObject(roomStub(room), { webSockets: "close" });
    const backB = await Peer.join(room, { resume: b.welcome.resume });
    expect(backB.welcome.resumed).toBe(true);
    await expireGrace(room);
    expect(await backB.next()).toEqual({ type: "peer-left", id: a.welcome.id });
  });
});

describe("heartbeat", () => {
  it("answers ping with pong by auto-response, without the object's code", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    const pong = new Promise<void>((resolve) => a.socket.addEventListener("message", () => resolve()));
    await evictDurableObject(roomStub(room));
    a.socket.send("ping");
    await pong;
    expect(a.pongs).toBe(1);
    const answered = await runInDurableObject(roomStub(room), (_, state) =>
      state.getWebSockets().map((socket) => state.getWebSocketAutoResponseTimestamp(socket)),
    );
    expect(answered).toEqual([expect.any(Date)]);
  });
});
