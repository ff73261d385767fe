import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/config";
import { parseDisplayName } from "../../src/inbound";
import { exceedsFrameLimit, MAX_FRAME_BYTES, RateLimiter } from "../../src/limits";
import { isAllowedOrigin } from "../../src/origin";

describe("RateLimiter", () => {
  const settings = { perSecond: 50, burst: 200 };

  function takeMany(limiter: RateLimiter, count: number, now: number): string[] {
    return Array.from({ length: count }, () => limiter.take(now));
  }

  it("allows a burst of 200, then drops and notifies once per second", () => {
    const limiter = new RateLimiter(settings, 0);
    expect(takeMany(limiter, 200, 0).every((v) => v === "accept")).toBe(true);
    expect(limiter.take(0)).toBe("drop-and-notify");
    expect(limiter.take(1)).toBe("drop");
    expect(limiter.take(999)).toBe("accept"); // 999 ms refilled ~50 tokens
    const later = takeMany(limiter, 60, 999);
    expect(later.filter((v) => v === "accept")).toHaveLength(48);
    expect(later.filter((v) => v === "drop-and-notify")).toHaveLength(0);
    expect(limiter.take(1000)).toBe("drop-and-notify");
  });

  it("sustains 50 messages per second indefinitely", () => {
    const limiter = new RateLimiter(settings, 0);
    for (let ms = 0; ms < 60_000; ms += 20) expect(limiter.take(ms)).toBe("accept");
  });

  it("calls the 500th drop within 10 s flooding, on a sliding window", () => {
    const limiter = new RateLimiter({ perSecond: 0.0001, burst: 1 }, 0);
    expect(limiter.take(0)).toBe("accept");
    const first499 = Array.from({ length: 499 }, (_, i) => limiter.take(i * 20)); // drops at 0 … 9,960 ms
    expect(first499).not.toContain("flooding");
    expect(limiter.take(9_999)).toBe("flooding");
  });

  it("does not count a drop that left the window", () => {
    const limiter = new RateLimiter({ perSecond: 0.0001, burst: 1 }, 0);
    limiter.take(0);
    for (let i = 0; i < 499; i++) limiter.take(i * 20);
    expect(limiter.take(10_000)).not.toBe("flooding"); // the last 500 drops span 0 … 10,000 ms
    expect(limiter.take(10_020)).not.toBe("flooding"); // 20 … 10,020 ms
    expect(limiter.take(10_039)).toBe("flooding"); // 40 … 10,039 ms: under 10 s
  });

  it("does not call drops spread over more than 10 s flooding", () => {
    const limiter = new RateLimiter({ perSecond: 0.0001, burst: 1 }, 0);
    limiter.take(0);
    // One drop every 25 ms: any 500 consecutive drops span more than 10 s.
    const verdicts = Array.from({ length: 2_000 }, (_, i) => limiter.take(1 + i * 25));
    expect(verdicts).not.toContain("flooding");
  });
});

describe("frame size", () => {
  it("counts UTF-8 bytes, not UTF-16 units", () => {
    expect(exceedsFrameLimit("a".repeat(MAX_FRAME_BYTES))).toBe(false);
    expect(exceedsFrameLimit("a".repeat(MAX_FRAME_BYTES + 1))).toBe(true);
    expect(exceedsFrameLimit("é".repeat(MAX_FRAME_BYTES / 2))).toBe(false);
    expect(exceedsFrameLimit("é".repeat(MAX_FRAME_BYTES / 2 + 1))).toBe(true);
    expect(exceedsFrameLimit("€".repeat(Math.floor(MAX_FRAME_BYTES / 3) + 1))).toBe(true);
  });
});

describe("display names", () => {
  it("trims, and treats empty or whitespace-only as anonymous", () => {
    expect(parseDisplayName("  Ann  ")).toEqual({ ok: true, name: "Ann" });
    expect(parseDisplayName(null)).toEqual({ ok: true, name: null });
    expect(parseDisplayName("")).toEqual({ ok: true, name: null });
    expect(parseDisplayName(" \t ")).toEqual({ ok: true, name: null });
  });

  it("counts Unicode code points, up to 40", () => {
    expect(parseDisplayName("😀".repeat(40))).toEqual({ ok: true, name: "😀".repeat(40) });
    expect(parseDisplayName("😀".repeat(41)).ok).toBe(false);
    expect(parseDisplayName("x".repeat(41)).ok).toBe(false);
  });

  it("refuses control characters (category Cc)", () => {
    expect(parseDisplayName("a\u0000b").ok).toBe(false);
    expect(parseDisplayName("a\u007fb").ok).toBe(false);
    expect(parseDisplayName("a\u0085b").ok).toBe(false);
    expect(parseDisplayName("a\u200bb").ok).toBe(false); // Cf, not Cc, but refused too (names.test.ts)
  });
});

describe("origins", () => {
  const allowed = new Set(["https://app.example.com", "null"]);
  const url = "https://rendezvous.example/r/abc/ws";

  it("allows no Origin, the same host, and listed origins", () => {
    expect(isAllowedOrigin(undefined, url, allowed)).toBe(true);
    expect(isAllowedOrigin("https://rendezvous.example", url, allowed)).toBe(true);
    expect(isAllowedOrigin("https://app.example.com", url, allowed)).toBe(true);
  });

  it("refuses other hosts, `null` (even when listed) and garbage", () => {
    expect(isAllowedOrigin("https://evil.example", url, allowed)).toBe(false);
    expect(isAllowedOrigin("https://app.example.com:8443", url, allowed)).toBe(false);
    expect(isAllowedOrigin("null", url, allowed)).toBe(false);
    expect(isAllowedOrigin("not a url", url, allowed)).toBe(false);
    // Opaque origins serialize as `null` however they are spelled.
    expect(isAllowedOrigin("file:///home/me/page.html", url, allowed)).toBe(false);
    expect(isAllowedOrigin("data:text/html,hi", url, allowed)).toBe(false);
  });
});

describe("configuration", () => {
  const base = {};

  it("has defaults", () => {
    const config = readConfig(base);
    expect(config.maxPeers).toBe(8);
    expect(config.resumeGraceMs).toBe(30_000);
    expect(config.iceServers).toEqual([{ urls: "stun:stun.cloudflare.com:3478" }]);
    expect(config.rate).toEqual({ perSecond: 50, burst: 200 });
    expect([...config.allowedOrigins]).toEqual([]);
  });

  it("parses lists and refuses malformed values loudly", () => {
    expect([
      ...readConfig({ ...base, ALLOWED_ORIGINS: " https://a.example , https://b.example," }).allowedOrigins,
    ]).toEqual(["https://a.example", "https://b.example"]);
    expect(() => readConfig({ ...base, MAX_PEERS: "eight" })).toThrow(/MAX_PEERS/);
    expect(readConfig({ ...base, MAX_PEERS: "16" }).maxPeers).toBe(16);
    expect(() => readConfig({ ...base, MAX_PEERS: "17" })).toThrow(/MAX_PEERS must be at most 16/);
    expect(() => readConfig({ ...base, RESUME_GRACE_SECONDS: "0" })).toThrow(/RESUME_GRACE_SECONDS/);
    expect(() => readConfig({ ...base, ICE_SERVERS: "[" })).toThrow(/ICE_SERVERS/);
    expect(() => readConfig({ ...base, ICE_SERVERS: '[{"url":"stun:x"}]' })).toThrow(/ICE_SERVERS/);
  });
});
