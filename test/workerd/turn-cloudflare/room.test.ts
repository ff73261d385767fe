/**
 * A room with Cloudflare Realtime TURN (project workerd-turn-cloudflare: see
 * vitest.config.ts for its variables, MAX_PEERS 2 among them). The room runs
 * in this test's isolate, so stubbing the global fetch intercepts its call to
 * Cloudflare's API, where the Worker's code meets the platform; any other
 * request goes through untouched.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { CloseCode } from "../../../src/protocol";
import { Peer, roomStub } from "../peer";

const API = "https://rtc.live.cloudflare.com/v1/turn/keys/test-key-id/credentials/generate-ice-servers";
const TTL = 600;
/** After a failed call, when the peer is told to ask again (src/turn.ts RETRY_AFTER_FAILURE_SECONDS). */
const RETRY = 60;
const STUN = { urls: "stun:stun.cloudflare.com:3478" };

/** What Cloudflare would answer for its nth call: credentials that say which call made them. */
const issued = (n: number) => ({
  urls: ["stun:stun.cloudflare.com:3478", "turn:turn.cloudflare.com:3478?transport=udp"],
  username: `cf-user-${n}`,
  credential: `cf-credential-${n}`,
});

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

let rooms = 0;
const freshRoom = () => `turn-cf-${Date.now().toString(36)}-${rooms++}`;

let calls: Call[];
/** How the API answers call number n (from 1); the default is a 201 with one server. */
let answer: (n: number, signal: AbortSignal | null) => Promise<Response>;
let warn: MockInstance<typeof console.warn>;

beforeEach(() => {
  calls = [];
  answer = async (n) => Response.json({ iceServers: issued(n) }, { status: 201 });
  const passThrough = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (!request.url.startsWith("https://rtc.live.cloudflare.com/")) return passThrough(input, init);
    calls.push({
      url: request.url,
      method: request.method,
      headers: Object.fromEntries(request.headers),
      body: await request.json(),
    });
    return answer(calls.length, init?.signal ?? null);
  });
  warn = vi.spyOn(console, "warn").mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** An answer that never comes; like a real fetch, it gives up when its signal aborts. */
const never = (_: number, signal: AbortSignal | null) =>
  new Promise<Response>((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)));

const hasCredentials = (peer: Peer) => peer.raw.some((frame) => /iceServers|credential|username/.test(frame));

describe("Cloudflare TURN", () => {
  it("welcomes with STUN plus Cloudflare's servers, from one documented API call", async () => {
    const a = await Peer.join(freshRoom());
    expect(a.welcome.iceServers).toEqual([STUN, issued(1)]);
    expect(a.welcome.iceServersTtl).toBe(TTL);
    expect(calls).toEqual([
      {
        url: API,
        method: "POST",
        headers: expect.objectContaining({
          authorization: "Bearer test-api-token",
          "content-type": "application/json",
        }),
        body: { ttl: TTL },
      },
    ]);
    expect(warn).not.toHaveBeenCalled();
  });

  it("passes a list of servers through", async () => {
    answer = async () =>
      Response.json({ iceServers: [issued(7), { urls: "turns:turn.cloudflare.com:443" }] }, { status: 201 });
    const a = await Peer.join(freshRoom());
    expect(a.welcome.iceServers).toEqual([STUN, issued(7), { urls: "turns:turn.cloudflare.com:443" }]);
  });

  it("falls back to STUN after 2 s without an answer, with one warning, and still admits the peer", async () => {
    answer = never;
    const started = Date.now();
    const a = await Peer.join(freshRoom());
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(1_900);
    expect(waited).toBeLessThan(3_500);
    expect(a.welcome.iceServers).toEqual([STUN]);
    expect(a.welcome.iceServersTtl).toBe(RETRY);
    expect(warn).toHaveBeenCalledOnce();
    const line = String(warn.mock.calls[0]?.[0]);
    expect(JSON.parse(line)).toEqual({
      event: "turn-unavailable",
      provider: "cloudflare",
      reason: "timeout",
      fallback: "stun",
    });
    expect(line).not.toMatch(/test-key-id|test-api-token/);
  }, 10_000);

  it("falls back to STUN on an error status, with one warning, and lets the peer retry at once", async () => {
    answer = async (n) =>
      n === 1
        ? Response.json({ errors: ["boom"] }, { status: 500 })
        : Response.json({ iceServers: issued(n) }, { status: 201 });
    const a = await Peer.join(freshRoom());
    expect(a.welcome.iceServers).toEqual([STUN]);
    expect(a.welcome.iceServersTtl).toBe(RETRY);
    expect(warn).toHaveBeenCalledOnce();
    expect(JSON.parse(String(warn.mock.calls[0]?.[0]))).toMatchObject({ reason: "status 500" });
    // Nothing was issued, so nothing limits the retry.
    a.send({ type: "renew-ice" });
    expect(await a.next()).toEqual({ type: "ice-servers", iceServers: [STUN, issued(2)], iceServersTtl: TTL });
  });

  it("answers a failed renewal with STUN and a retry, and records nothing", async () => {
    answer = async (n) =>
      n === 1 ? Response.json({ iceServers: issued(n) }, { status: 201 }) : new Response("", { status: 503 });
    const room = freshRoom();
    const a = await Peer.join(room);
    // Let the first credentials age past TTL/2: the peer's record says they were issued long ago.
    await runInDurableObject(roomStub(room), (_, state) => {
      state.storage.sql.exec("UPDATE peers SET ice_issued_at = ice_issued_at - ?", (TTL / 2) * 1000);
    });
    a.send({ type: "renew-ice" });
    expect(await a.next()).toEqual({ type: "ice-servers", iceServers: [STUN], iceServersTtl: RETRY });
    a.send({ type: "renew-ice" });
    expect(await a.next()).toEqual({ type: "ice-servers", iceServers: [STUN], iceServersTtl: RETRY });
    expect(calls).toHaveLength(3);
  });

  it("calls nothing for a bad name, and gives a refused join no credentials", async () => {
    const room = freshRoom();
    const badName = await Peer.open(room, { name: "\u0007" });
    expect(await badName.next("error")).toMatchObject({ code: "bad-name" });
    expect(calls).toEqual([]);
    await Peer.join(room);
    await Peer.join(room);
    expect(calls).toHaveLength(2);
    const third = await Peer.open(room);
    expect(await third.next("error")).toMatchObject({ code: "room-full" });
    await third.expectClose(CloseCode.roomFull);
    // Nor for a join into a full room: each call may be paid for.
    expect(calls).toHaveLength(2);
    expect(hasCredentials(badName)).toBe(false);
    expect(hasCredentials(third)).toBe(false);
  });

  it("checks the room's join limit before calling Cloudflare: a rate-limited join costs no call", async () => {
    const room = freshRoom();
    // 20 upgrades spend the room's burst: 2 join (MAX_PEERS is 2 here), the others find it full.
    const spent = await Promise.all(Array.from({ length: 20 }, () => Peer.open(room, { name: "Bob" })));
    for (const peer of spent) await peer.next();
    const before = calls.length;
    const limited = await Peer.open(room, { name: "Ann" });
    expect(await limited.next()).toMatchObject({ type: "error", code: "rate-limited" });
    await limited.expectClose(CloseCode.joinRateLimited);
    expect(calls).toHaveLength(before);
    expect(hasCredentials(limited)).toBe(false);
  });

  it("calls again for a resume, and sends the fresh credentials", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    a.close(4000);
    await a.closed;
    const back = await Peer.join(room, { resume: a.welcome.resume });
    expect(back.welcome).toMatchObject({ id: a.welcome.id, resumed: true, iceServersTtl: TTL });
    expect(back.welcome.iceServers).toEqual([STUN, issued(2)]);
    expect(calls).toHaveLength(2);
  });

  it("renews on renew-ice with a new call, at most once per TTL/2", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    a.send({ type: "renew-ice" });
    expect(await a.drain()).toEqual([
      { type: "error", code: "rate-limited", message: expect.any(String), ref: "renew-ice" },
    ]);
    expect(calls).toHaveLength(1);
    // The issue time is stored: an eviction, like a hibernation, does not reset the limit.
    await evictDurableObject(roomStub(room));
    a.send({ type: "renew-ice" });
    expect(await a.drain()).toEqual([
      { type: "error", code: "rate-limited", message: expect.any(String), ref: "renew-ice" },
    ]);
    expect(calls).toHaveLength(1);
    await runInDurableObject(roomStub(room), (_, state) => {
      state.storage.sql.exec("UPDATE peers SET ice_issued_at = ice_issued_at - ?", (TTL / 2) * 1000);
    });
    a.send({ type: "renew-ice" });
    expect(await a.next()).toEqual({ type: "ice-servers", iceServers: [STUN, issued(2)], iceServersTtl: TTL });
    a.send({ type: "renew-ice" });
    expect(await a.drain()).toEqual([
      { type: "error", code: "rate-limited", message: expect.any(String), ref: "renew-ice" },
    ]);
    expect(calls).toHaveLength(2);
  });

  it("answers a renewal only on the connection that asked, while it still speaks for the peer", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    await runInDurableObject(roomStub(room), (_, state) => {
      state.storage.sql.exec("UPDATE peers SET ice_issued_at = NULL");
    });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    answer = async (n) => {
      if (n === 2) await held;
      return Response.json({ iceServers: issued(n) }, { status: 201 });
    };
    a.send({ type: "renew-ice" });
    while (calls.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    // The renewal is waiting on Cloudflare; meanwhile the peer resumes on a new socket.
    const back = await Peer.join(room, { resume: a.welcome.resume });
    expect(back.welcome.iceServers).toEqual([STUN, issued(3)]);
    await a.expectClose(CloseCode.replaced);
    release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await back.drain()).toEqual([]);
    expect(a.raw.filter((frame) => frame.includes("ice-servers"))).toEqual([]);
  });
});
