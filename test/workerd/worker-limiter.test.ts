/**
 * The join limiter on its own: which address an upgrade counts against, and
 * the per-address Durable Object's sliding window, Retry-After and clean-up.
 * Time passes by ageing the stored upgrades behind the object's back.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addressKey, type JoinLimiter } from "../../src/limiter";

let limiters = 0;
const freshLimiter = () => env.JOIN_LIMITER.get(env.JOIN_LIMITER.idFromName(`test-${limiters++}`));
type Limiter = ReturnType<typeof freshLimiter>;

/** Moves every stored upgrade `ms` into the past; the n-th stored one `n * step` further. */
async function age(limiter: Limiter, ms: number, step = 0): Promise<void> {
  await runInDurableObject(limiter, (_: JoinLimiter, state) => {
    state.storage.sql.exec("UPDATE upgrades SET at = at - ? - ? * rowid", ms, step);
  });
}

async function admitMany(limiter: Limiter, limit: number, count: number): Promise<void> {
  for (let n = 0; n < count; n++) expect(await limiter.admit(limit)).toEqual({ ok: true });
}

describe("addressKey", () => {
  it("is the IPv4 address itself", () => {
    expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey(" 203.0.113.7 ")).toBe("203.0.113.7");
  });

  it("is an IPv6 address's /64, however it is written", () => {
    const key = "2001:db8:0:12::/64";
    for (const ip of [
      "2001:db8:0:12::1",
      "2001:0DB8:0000:0012:ffff:1:2:3",
      "2001:db8::12:0:0:0:1",
      "2001:db8:0:12::",
    ]) {
      expect(addressKey(ip)).toBe(key);
    }
    expect(addressKey("2001:db8:0:13::1")).not.toBe(key);
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
  });

  it("is the IPv4 address of an IPv4-mapped IPv6 address", () => {
    expect(addressKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("::ffff:cb00:7107")).toBe("203.0.113.7");
  });

  it("is one fixed key without an address, and the text itself when it is no address", () => {
    expect(addressKey(undefined)).toBe("unknown");
    expect(addressKey("")).toBe("unknown");
    for (const junk of ["1::2::3", "2001:db8:::1", "1:2:3:4:5:6:7:8:9", "12345::", "::ffff:1.2.3.256"]) {
      expect(addressKey(junk)).toBe(junk);
    }
  });
});

describe("JoinLimiter", () => {
  it("admits `limit` upgrades in 60 s and refuses the next until the oldest leaves the window", async () => {
    const limiter = freshLimiter();
    await admitMany(limiter, 3, 3);
    expect(await limiter.admit(3)).toEqual({ ok: false, retryAfterSeconds: 60 });
    // 30 s later: still three in the window; they leave it in 30 s.
    await age(limiter, 30_000);
    expect(await limiter.admit(3)).toEqual({ ok: false, retryAfterSeconds: 30 });
    // 60 s after them: the window is empty again, whatever was refused meanwhile.
    await age(limiter, 30_000);
    await admitMany(limiter, 3, 3);
    expect(await limiter.admit(3)).toEqual({ ok: false, retryAfterSeconds: 60 });
  });

  it("keeps its count when evicted, as an idle object is after about 10 s", async () => {
    const limiter = freshLimiter();
    await admitMany(limiter, 3, 3);
    await evictDurableObject(limiter);
    expect(await limiter.admit(3)).toEqual({ ok: false, retryAfterSeconds: 60 });
  });

  it("slides: each upgrade frees its slot exactly 60 s after it", async () => {
    const limiter = freshLimiter();
    await admitMany(limiter, 5, 5);
    await age(limiter, 0, 10_000); // now 10, 20, 30, 40 and 50 s old
    expect(await limiter.admit(5)).toEqual({ ok: false, retryAfterSeconds: 10 });
    // A lower limit (a deploy) waits for enough of them: the third oldest, 30 s old.
    expect(await limiter.admit(3)).toEqual({ ok: false, retryAfterSeconds: 30 });
    await age(limiter, 15_000); // the oldest is now 65 s old
    expect(await limiter.admit(5)).toEqual({ ok: true });
  });

  it("deletes its storage once its window has passed, and not before", async () => {
    const limiter = freshLimiter();
    await admitMany(limiter, 3, 2);
    const tables = () =>
      runInDurableObject(limiter, (_: JoinLimiter, state) =>
        state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'upgrades'").toArray(),
      );
    expect(await runDurableObjectAlarm(limiter)).toBe(true);
    expect(await tables()).toHaveLength(1);
    expect(await runInDurableObject(limiter, (_: JoinLimiter, state) => state.storage.getAlarm())).not.toBeNull();
    await age(limiter, 60_000);
    expect(await runDurableObjectAlarm(limiter)).toBe(true);
    expect(await tables()).toEqual([]);
    expect(await runInDurableObject(limiter, (_: JoinLimiter, state) => state.storage.getAlarm())).toBeNull();
    // And it starts afresh.
    await admitMany(limiter, 3, 3);
  });
});
