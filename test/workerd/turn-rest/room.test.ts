/**
 * A room with TURN REST credentials (project workerd-turn-rest: see
 * vitest.config.ts for its variables, MAX_PEERS 2 among them). Credentials
 * are checked with WebCrypto's HMAC verify, not with the code under test.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CloseCode, type IceServer } from "../../../src/protocol";
import { Peer, roomStub } from "../peer";

const SECRET = "test-turn-secret";
const TTL = 600;
const STUN = { urls: "stun:stun.cloudflare.com:3478" };
const URLS = ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp"];

let rooms = 0;
const freshRoom = () => `turn-rest-${Date.now().toString(36)}-${rooms++}`;

const seconds = () => Math.floor(Date.now() / 1000);

/** The TURN entry of a server list, checked to be signed with SECRET; returns its expiry and peer id. */
async function turnEntry(servers: IceServer[]): Promise<{ expiry: number; id: string; credential: string }> {
  expect(servers).toEqual([STUN, { urls: URLS, username: expect.any(String), credential: expect.any(String) }]);
  const { username = "", credential = "" } = servers[1] ?? {};
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(SECRET),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["verify"],
  );
  const mac = Uint8Array.from(atob(credential), (char) => char.charCodeAt(0));
  expect(await crypto.subtle.verify("HMAC", key, mac, new TextEncoder().encode(username))).toBe(true);
  const [expiry = "", id = ""] = username.split(":");
  return { expiry: Number(expiry), id, credential };
}

/** Waits into the next whole second, so that a new credential's expiry differs from the last one's. */
async function nextSecond(): Promise<void> {
  const now = seconds();
  while (seconds() === now) await new Promise((resolve) => setTimeout(resolve, 50));
}

const hasCredentials = (peer: Peer) => peer.raw.some((frame) => /iceServers|credential|username/.test(frame));

describe("TURN REST", () => {
  it("welcomes each peer with STUN plus credentials for its own id, expiring in TTL, seen by nobody else", async () => {
    const room = freshRoom();
    const before = seconds();
    const a = await Peer.join(room, { name: "Ann" });
    const b = await Peer.join(room, { name: "Bob" });
    const after = seconds();
    const forA = await turnEntry(a.welcome.iceServers);
    const forB = await turnEntry(b.welcome.iceServers);
    expect(forA.id).toBe(a.welcome.id);
    expect(forB.id).toBe(b.welcome.id);
    for (const { expiry } of [forA, forB]) {
      expect(expiry).toBeGreaterThanOrEqual(before + TTL);
      expect(expiry).toBeLessThanOrEqual(after + TTL);
    }
    expect(a.welcome.iceServersTtl).toBe(TTL);
    expect(b.welcome.iceServersTtl).toBe(TTL);
    await a.next("peer-joined");
    expect(a.raw.join("\n")).not.toContain(forB.credential);
    expect(b.raw.join("\n")).not.toContain(forA.credential);
  });

  it("gives a refused join none: a bad name, a full room", async () => {
    const room = freshRoom();
    const badName = await Peer.open(room, { name: "\u0007" });
    expect(await badName.next("error")).toMatchObject({ code: "bad-name" });
    await badName.expectClose(CloseCode.badName);
    await Peer.join(room);
    await Peer.join(room);
    const third = await Peer.open(room);
    expect(await third.next("error")).toMatchObject({ code: "room-full" });
    await third.expectClose(CloseCode.roomFull);
    expect(badName.raw).toHaveLength(1);
    expect(third.raw).toHaveLength(1);
    expect(hasCredentials(badName)).toBe(false);
    expect(hasCredentials(third)).toBe(false);
  });

  it("issues fresh credentials for the same id on a resume", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    const first = await turnEntry(a.welcome.iceServers);
    a.close(4000);
    await a.closed;
    await nextSecond();
    const back = await Peer.join(room, { resume: a.welcome.resume });
    expect(back.welcome).toMatchObject({ id: a.welcome.id, resumed: true, iceServersTtl: TTL });
    const again = await turnEntry(back.welcome.iceServers);
    expect(again.id).toBe(a.welcome.id);
    expect(again.expiry).toBeGreaterThan(first.expiry);
    expect(again.credential).not.toBe(first.credential);
  });

  it("issues for the id admission picks when two joins race with one token", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    a.close(4000);
    await a.closed;
    const both = await Promise.all([0, 1].map(() => Peer.join(room, { resume: a.welcome.resume })));
    expect(both.map((peer) => peer.welcome.resumed).sort()).toEqual([false, true]);
    for (const peer of both) expect((await turnEntry(peer.welcome.iceServers)).id).toBe(peer.welcome.id);
  });

  it("renews on renew-ice, at most once per TTL/2, counting the welcome", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    const welcomed = await turnEntry(a.welcome.iceServers);
    a.send({ type: "renew-ice" });
    expect(await a.drain()).toEqual([
      { type: "error", code: "rate-limited", message: expect.stringContaining("300 s"), ref: "renew-ice" },
    ]);
    // The issue time is stored, so an eviction (like a hibernation) does not reset the limit.
    await evictDurableObject(roomStub(room));
    a.send({ type: "renew-ice" });
    expect(await a.drain()).toEqual([
      { type: "error", code: "rate-limited", message: expect.any(String), ref: "renew-ice" },
    ]);
    // Half the lifetime later (the stored issue time moved back), a renewal is due.
    await runInDurableObject(roomStub(room), (_, state) => {
      state.storage.sql.exec("UPDATE peers SET ice_issued_at = ice_issued_at - ?", (TTL / 2) * 1000);
    });
    await nextSecond();
    a.send({ type: "renew-ice" });
    const renewal = await a.next("ice-servers");
    expect(renewal.iceServersTtl).toBe(TTL);
    const renewed = await turnEntry(renewal.iceServers);
    expect(renewed.id).toBe(a.welcome.id);
    expect(renewed.expiry).toBeGreaterThan(welcomed.expiry);
    a.send({ type: "renew-ice" });
    expect(await a.drain()).toEqual([
      { type: "error", code: "rate-limited", message: expect.any(String), ref: "renew-ice" },
    ]);
  });
});
