/**
 * The per-address join limit at its default, through the Worker: 120 room
 * upgrades a minute per address, the 121st refused with 429 before any room is
 * touched, and nothing counted for requests the Worker refuses anyway.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addressKey } from "../../../src/limiter";
import app from "../../../src/worker";
import { expectHttpError } from "../http-error";
import { Peer } from "../peer";

const LIMIT = 120;
/** 121 real upgrades take a few seconds on two busy cores; the window is a minute. */
const SLOW = { timeout: 30_000 };

function upgradeRequest(ip: string | null, extra: Record<string, string> = {}, room = "limit"): Request {
  const headers: Record<string, string> = { Upgrade: "websocket", ...extra };
  if (ip !== null) headers["CF-Connecting-IP"] = ip;
  return new Request(`http://rendezvous.test/r/${room}/ws`, { headers });
}

/** An upgrade that must be let through to the room; its socket is closed at once. */
async function expectAdmitted(response: Response): Promise<void> {
  expect(response.status).toBe(101);
  response.webSocket?.accept();
  response.webSocket?.close(1000);
}

async function expectRateLimited(response: Response): Promise<void> {
  const retryAfter = Number(response.headers.get("Retry-After"));
  await expectHttpError(response, 429, "rate-limited");
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

/** Every way the Worker refuses a malformed upgrade before the limit is asked. */
async function expectRefusedBeforeTheLimit(ip: string): Promise<void> {
  await expectHttpError(await SELF.fetch(upgradeRequest(ip, {}, "a.b")), 400, "bad-room");
  await expectHttpError(await SELF.fetch(upgradeRequest(ip, { Upgrade: "h2c" })), 426, "upgrade-required");
  await expectHttpError(await SELF.fetch(upgradeRequest(ip, { Origin: "https://evil.example" })), 403, "bad-origin");
}

/** Fills an address's window without opening sockets: the limiter the Worker asks, asked directly. */
async function exhaust(key: string): Promise<void> {
  const limiter = env.JOIN_LIMITER.get(env.JOIN_LIMITER.idFromName(key));
  for (let n = 0; n < LIMIT; n++) expect(await limiter.admit(LIMIT)).toEqual({ ok: true });
}

describe("per-address join limit", () => {
  it(
    "admits 120 upgrades a minute from one address and refuses the 121st with 429, JSON and Retry-After",
    SLOW,
    async () => {
      const ip = "203.0.113.7";
      for (let n = 0; n < LIMIT / 2; n++) await expectAdmitted(await SELF.fetch(upgradeRequest(ip)));
      // Refused requests in between count for nothing.
      for (let n = 0; n < 10; n++) await expectRefusedBeforeTheLimit(ip);
      for (let n = 0; n < LIMIT / 2; n++) await expectAdmitted(await SELF.fetch(upgradeRequest(ip)));
      await expectRateLimited(await SELF.fetch(upgradeRequest(ip)));
      await expectRateLimited(await SELF.fetch(upgradeRequest(ip, {}, "another-room")));
      // The cheaper refusals still come first.
      await expectRefusedBeforeTheLimit(ip);
      // Other addresses, and requests without one, are unaffected.
      await expectAdmitted(await SELF.fetch(upgradeRequest("203.0.113.8")));
      await expectAdmitted(await SELF.fetch(upgradeRequest(null)));
    },
  );

  it("counts an IPv6 address as its /64", SLOW, async () => {
    await exhaust(addressKey("2001:db8:1:2::1"));
    await expectRateLimited(await SELF.fetch(upgradeRequest("2001:db8:1:2:abcd::5")));
    await expectAdmitted(await SELF.fetch(upgradeRequest("2001:db8:1:3::1")));
  });

  it("is off with JOIN_RATE_PER_IP=0", SLOW, async () => {
    const ip = "198.51.100.1";
    await exhaust(addressKey(ip));
    await expectRateLimited(await SELF.fetch(upgradeRequest(ip)));
    await expectAdmitted(await app.fetch(upgradeRequest(ip), { ...env, JOIN_RATE_PER_IP: "0" }));
  });
});

describe("one address's share of a room", () => {
  it("lets one address take 5 of a room's joins in a burst, and leaves the rest to others", async () => {
    const room = `share-${Date.now().toString(36)}`;
    const fromOne = await Promise.all(Array.from({ length: 8 }, () => Peer.open(room, { ip: "198.51.100.7" })));
    const kinds = await Promise.all(
      fromOne.map(async (peer) => {
        const frame = await peer.next();
        return frame.type === "error" ? frame.code : frame.type;
      }),
    );
    expect(kinds.filter((kind) => kind === "welcome")).toHaveLength(5);
    expect(kinds.filter((kind) => kind === "rate-limited")).toHaveLength(3);
    // Another address still gets in at once: the room's own bucket was not spent by the first.
    const other = await Peer.join(room, { ip: "203.0.113.20" });
    expect(other.welcome.resumed).toBe(false);
  });
});
