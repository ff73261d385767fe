/**
 * The room's pure rules: buckets, shares, caps, absence and seats.
 */
import { describe, expect, it } from "vitest";
import {
  awayShare,
  HELD_BYTES_PER_ROOM,
  heldShare,
  holdRefusal,
  JoinLimiter,
  MAX_FRAME_BYTES,
  RelayBudget,
  TokenBucket,
  utf8Length,
} from "../../src/limits";
import { absenceAt, RECLAIM_AFTER_MS, seat } from "../../src/seats";
import type { PeerRow } from "../../src/store";

describe("TokenBucket", () => {
  it("allows its burst, then refills at its rate, up to the burst", () => {
    const bucket = new TokenBucket({ burst: 20, perSecond: 1 }, 0);
    expect(Array.from({ length: 20 }, () => bucket.take(0)).every(Boolean)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(999)).toBe(false);
    expect(bucket.take(1_000)).toBe(true);
    expect(bucket.take(1_000)).toBe(false);
    const later = new TokenBucket({ burst: 20, perSecond: 1 }, 0);
    for (let i = 0; i < 20; i++) later.take(0);
    expect(Array.from({ length: 21 }, () => later.take(60_000)).filter(Boolean)).toHaveLength(20);
  });

  it("takes a cost whole or not at all", () => {
    const bucket = new TokenBucket({ burst: 100, perSecond: 10 }, 0);
    expect(bucket.take(0, 60)).toBe(true);
    expect(bucket.take(0, 60)).toBe(false);
    expect(bucket.take(0, 40)).toBe(true);
  });
});

describe("JoinLimiter", () => {
  it("lets a known peer resume on its own allowance when the room's joins are spent, but no newcomer", () => {
    const joins = new JoinLimiter(0);
    for (let i = 0; i < 20; i++) expect(joins.take(0, null, null)).toBe(true);
    expect(joins.take(0, null, null)).toBe(false);
    expect([
      joins.take(0, "ann", null),
      joins.take(0, "ann", null),
      joins.take(0, "ann", null),
      joins.take(0, "ann", null),
    ]).toEqual([true, true, true, false]);
    expect(joins.take(0, "bob", null)).toBe(true); // each peer has its own
    expect(joins.take(10_000, "ann", null)).toBe(true); // 10 s earn one more… or the room's refill does
  });

  it("gives one address 5 of the room's joins, then one per 5 s, so it cannot spend the others' share", () => {
    const joins = new JoinLimiter(0);
    const fromA = Array.from({ length: 7 }, () => joins.take(0, null, "198.51.100.1"));
    expect(fromA).toEqual([true, true, true, true, true, false, false]);
    expect(joins.take(0, null, "203.0.113.9")).toBe(true);
    expect(joins.take(5_000, null, "198.51.100.1")).toBe(true);
    expect(joins.take(5_000, null, "198.51.100.1")).toBe(false);
  });
});

describe("RelayBudget", () => {
  it("relays 64 KiB per 10 s per ordered pair, one largest frame at least", () => {
    const budget = new RelayBudget();
    expect(budget.take("a", "b", MAX_FRAME_BYTES + 2, 0)).toBe(true);
    expect(budget.take("a", "b", 1024, 0)).toBe(false);
    expect(budget.take("c", "b", 60_000, 0)).toBe(true);
    expect(budget.take("b", "a", 60_000, 0)).toBe(true);
    expect(budget.take("a", "b", 6_000, 1_000)).toBe(true); // 6.4 KiB a second
    budget.forget("a");
    expect(budget.take("a", "b", MAX_FRAME_BYTES, 1_000)).toBe(true);
  });
});

describe("held shares", () => {
  it("splits an away peer's 256 frames among its senders, and the room's 1 MiB among its peers", () => {
    expect(awayShare(8)).toBe(36);
    expect(awayShare(2)).toBe(256);
    expect(awayShare(1)).toBe(256);
    expect(heldShare(8)).toBe(128 * 1024);
    expect(heldShare(8) * 8).toBe(HELD_BYTES_PER_ROOM);
    expect(heldShare(64)).toBe(MAX_FRAME_BYTES); // never less than one largest frame
  });

  it("says why a frame may not be held", () => {
    expect(holdRefusal("pair", { queue: 99, senderBytes: 0 }, 100, 8)).toBeNull();
    expect(holdRefusal("pair", { queue: 100, senderBytes: 0 }, 100, 8)).toMatch(/100 candidates/);
    expect(holdRefusal("away", { queue: 35, senderBytes: 0 }, 100, 8)).toBeNull();
    expect(holdRefusal("away", { queue: 36, senderBytes: 0 }, 100, 8)).toMatch(/away.*36/);
    expect(holdRefusal("away", { queue: 0, senderBytes: 128 * 1024 - 100 }, 100, 8)).toBeNull();
    expect(holdRefusal("away", { queue: 0, senderBytes: 128 * 1024 - 99 }, 100, 8)).toMatch(/128 KiB/);
  });

  it("measures frames in UTF-8 bytes", () => {
    for (const text of ["", "abc", "é", "€", "😀", "a\u{1F600}b", "\ud800x", "x\udc00"]) {
      expect(utf8Length(text), JSON.stringify(text)).toBe(new TextEncoder().encode(text).byteLength);
    }
  });
});

describe("seats", () => {
  const peer = (id: string, fields: Partial<PeerRow> = {}): PeerRow => ({
    id,
    name: null,
    conn: `conn-${id}`,
    ip: null,
    awayUntil: null,
    absence: 0,
    absenceAt: 0,
    ...fields,
  });
  const away = (id: string, absence: number, fields: Partial<PeerRow> = {}) =>
    peer(id, { awayUntil: 30_000, absence, absenceAt: 0, ...fields });
  const rules = { maxPeers: 3, maxPeersPerIp: null };

  it("grows absence while away and forgives a quarter of the time connected", () => {
    expect(absenceAt(away("a", 1_000), 2_000)).toBe(3_000);
    expect(absenceAt(peer("a", { absence: 3_000 }), 4_000)).toBe(2_000);
    expect(absenceAt(peer("a", { absence: 3_000 }), 60_000)).toBe(0);
  });

  it("admits into a free seat, reclaims the longest-away seat past 5 s, and never a blip's or a live one's", () => {
    expect(seat([peer("a"), peer("b")], null, 0, rules)).toEqual({ admit: true, evict: [] });
    const full = [peer("a"), away("b", RECLAIM_AFTER_MS), away("c", 1_000)];
    expect(seat(full, null, 0, rules)).toMatchObject({ admit: false, reason: expect.stringMatching(/full/) });
    expect(seat(full, null, 1, rules)).toEqual({ admit: true, evict: ["b"] });
    expect(seat(full, null, 5_000, rules)).toEqual({ admit: true, evict: ["b"] }); // 10 s away beats 6 s
    const blip = [peer("a"), peer("b"), away("c", 1_000)];
    expect(seat(blip, null, 4_000, rules).admit).toBe(false); // exactly 5 s: keeps its seat
    expect(seat(blip, null, 4_001, rules)).toEqual({ admit: true, evict: ["c"] });
    expect(seat([peer("a"), peer("b"), peer("c", { absence: 60_000 })], null, 0, rules).admit).toBe(false);
  });

  it("caps an address's seats, reclaiming only that address's absent ones", () => {
    const perIp = { maxPeers: 8, maxPeersPerIp: 2 };
    const room = [peer("a", { ip: "x" }), away("b", 1_000, { ip: "x" }), away("c", 60_000, { ip: "y" })];
    expect(seat(room, "x", 0, perIp)).toMatchObject({ admit: false, reason: expect.stringMatching(/2 seats/) });
    expect(seat(room, "y", 0, perIp)).toEqual({ admit: true, evict: [] });
    expect(seat(room, null, 0, perIp)).toEqual({ admit: true, evict: [] });
    expect(seat(room, "x", 5_000, perIp)).toEqual({ admit: true, evict: ["b"] });
    // Full as well: one eviction frees both.
    expect(seat(room, "x", 5_000, { maxPeers: 3, maxPeersPerIp: 2 })).toEqual({ admit: true, evict: ["b"] });
  });
});
