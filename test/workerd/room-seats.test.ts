/**
 * Seats: a full room gives a live newcomer the seat of a peer that is not
 * really there (its absence passed 5 s), never the seat of a blip or of a
 * connected peer, and cycling (drop, resume, drop) does not reset absence.
 * (MAX_PEERS_PER_IP: see per-ip/.) Time is moved by rewriting the stored
 * absence clocks (clock.ts).
 */
import { describe, expect, it } from "vitest";
import { CloseCode } from "../../src/protocol";
import { age, drop } from "./clock";
import { Peer } from "./peer";

let rooms = 0;
const freshRoom = () => `seats-${Date.now().toString(36)}-${rooms++}`;

/** A full room of 8: a host that stays, and 7 others. */
async function fullRoom(room: string) {
  const host = await Peer.join(room, { name: "Host" });
  const others: (Peer & { welcome: { id: string; resume: string } })[] = [];
  for (let i = 0; i < 7; i++) others.push(await Peer.join(room, { name: `P${i}` }));
  await host.drain();
  for (const peer of others) await peer.drain();
  return { host, others };
}

async function expectRoomFull(room: string, reason: RegExp): Promise<void> {
  const newcomer = await Peer.open(room, { name: "New" });
  expect(await newcomer.next()).toEqual({ type: "error", code: "room-full", message: expect.stringMatching(reason) });
  await newcomer.expectClose(CloseCode.roomFull);
}

describe("seat reclaim", () => {
  it("keeps a 2 s blip's seat in a full room, and gives it to a live newcomer once away for more than 5 s", async () => {
    const room = freshRoom();
    const { host, others } = await fullRoom(room);
    const [blip, ...rest] = others;
    if (!blip) throw new Error("no peers");
    await drop(blip, host);
    await expectRoomFull(room, /full \(8 peers\).*away for more than 5 s/);
    await age(room, 2_000);
    await expectRoomFull(room, /full/);
    for (const peer of [host, ...rest]) await peer.expectNothing();

    await age(room, 4_000); // 6 s away now
    const newcomer = await Peer.join(room, { name: "New" });
    expect(newcomer.welcome.peers.map((p) => p.id)).not.toContain(blip.welcome.id);
    expect(newcomer.welcome.peers).toHaveLength(7);
    for (const peer of [host, ...rest]) {
      expect(await peer.drain()).toEqual([
        { type: "peer-left", id: blip.welcome.id },
        { type: "peer-joined", peer: { id: newcomer.welcome.id, name: "New" } },
      ]);
    }
    // Its token died with its seat: coming back is a join, and the room is full of live peers.
    const late = await Peer.open(room, { resume: blip.welcome.resume });
    expect(await late.next()).toMatchObject({ type: "error", code: "room-full" });
  });

  it("does not let peers that drop and resume keep a newcomer out: cycling does not reset absence", async () => {
    const room = freshRoom();
    const { host, others } = await fullRoom(room);
    // Every squatter drops, comes back 4 s later (just before a naive 5 s rule), and drops again at once.
    for (const peer of others) await drop(peer, host);
    await age(room, 4_000);
    for (const peer of others) {
      const back = await Peer.join(room, { resume: peer.welcome.resume });
      expect(back.welcome.resumed).toBe(true);
      await drop(back, host);
    }
    // 2 s after the last drops: each has been away about 6 s of the last 6.
    await age(room, 2_000);
    const newcomer = await Peer.join(room, { name: "New" });
    expect(newcomer.welcome.peers).toHaveLength(7);
    const [left, joined] = await host.drain();
    expect(others.map((peer) => peer.welcome.id)).toContain(left?.type === "peer-left" ? left.id : null);
    expect(joined).toEqual({ type: "peer-joined", peer: { id: newcomer.welcome.id, name: "New" } });
  });

  it("reclaims the longest-away seat first, and never a connected peer's", async () => {
    const room = freshRoom();
    const { host, others } = await fullRoom(room);
    const [first, second] = others;
    if (!first || !second) throw new Error("no peers");
    await drop(first, host);
    await drop(second, host);
    await age(room, 8_000, "id = ?", first.welcome.id);
    await age(room, 6_000, "id = ?", second.welcome.id);
    const one = await Peer.join(room, { name: "One" });
    expect(await host.drain()).toEqual([
      { type: "peer-left", id: first.welcome.id },
      { type: "peer-joined", peer: { id: one.welcome.id, name: "One" } },
    ]);
    const two = await Peer.join(room, { name: "Two" });
    expect(await host.drain()).toEqual([
      { type: "peer-left", id: second.welcome.id },
      { type: "peer-joined", peer: { id: two.welcome.id, name: "Two" } },
    ]);
    // Everyone left is connected: nobody's seat is free.
    await expectRoomFull(room, /full/);
  });
});
