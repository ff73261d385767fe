/**
 * MAX_PEERS_PER_IP (project workerd-per-ip: MAX_PEERS 3, MAX_PEERS_PER_IP 2):
 * one client address (CF-Connecting-IP, which the Worker forwards) holds at
 * most two seats of a room; its own seats are reclaimed by the same rule as
 * a full room's, and a resume is never refused for its address.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CloseCode } from "../../../src/protocol";
import { age, drop } from "../clock";
import { Peer, roomStub } from "../peer";

let rooms = 0;
const freshRoom = () => `per-ip-${Date.now().toString(36)}-${rooms++}`;
const X = "198.51.100.7";
const Y = "203.0.113.5";

const addresses = (room: string) =>
  runInDurableObject(roomStub(room), (_, state) =>
    state.storage.sql.exec<{ id: string; ip: string | null }>("SELECT id, ip FROM peers ORDER BY seq").toArray(),
  );

describe("MAX_PEERS_PER_IP", () => {
  it("stores each peer's address and caps one address's seats, reclaiming only its own absent ones", async () => {
    const room = freshRoom();
    const a = await Peer.join(room, { name: "Ann", ip: X });
    const b = await Peer.join(room, { name: "Bob", ip: X });
    const third = await Peer.open(room, { name: "Cy", ip: X });
    expect(await third.next()).toEqual({
      type: "error",
      code: "room-full",
      message: expect.stringMatching(/your address already holds 2 seats.*MAX_PEERS_PER_IP/),
    });
    await third.expectClose(CloseCode.roomFull);
    const d = await Peer.join(room, { name: "Dee", ip: Y });
    expect(await addresses(room)).toEqual([
      { id: a.welcome.id, ip: X },
      { id: b.welcome.id, ip: X },
      { id: d.welcome.id, ip: Y },
    ]);

    // Ann drops: her address may not take her seat back as a newcomer before 5 s, then may.
    await drop(a, d);
    const early = await Peer.open(room, { name: "Cy", ip: X });
    expect(await early.next()).toMatchObject({ type: "error", code: "room-full" });
    await age(room, 6_000);
    const c = await Peer.join(room, { name: "Cy", ip: X });
    expect(c.welcome.peers).toEqual([
      { id: b.welcome.id, name: "Bob" },
      { id: d.welcome.id, name: "Dee" },
    ]);
    expect(await d.drain()).toEqual([
      { type: "peer-left", id: a.welcome.id },
      { type: "peer-joined", peer: { id: c.welcome.id, name: "Cy" } },
    ]);
  });

  it("never refuses a resume for its address, and records the new one", async () => {
    const room = freshRoom();
    const a = await Peer.join(room, { name: "Ann", ip: X });
    const b = await Peer.join(room, { name: "Bob", ip: Y });
    await Peer.join(room, { name: "Bea", ip: Y });
    await drop(a, b);
    // Ann's network changed: she comes back from Y, which already holds two seats.
    const back = await Peer.join(room, { resume: a.welcome.resume, ip: Y });
    expect(back.welcome).toMatchObject({ id: a.welcome.id, resumed: true });
    expect((await addresses(room))[0]).toEqual({ id: a.welcome.id, ip: Y });
  });
});
