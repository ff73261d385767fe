/**
 * The room's limits: frame size, what may be held and for whom, how fast peers
 * may join and relay, and the per-peer message rate limiter.
 *
 * Everything that counts over time here (token buckets, the drop window) lives
 * in memory on purpose: a room hibernates only after about 10 s without an
 * event, by which time every bucket below has refilled at least as far as it
 * would have anyway, so a hibernation gives nobody anything back early (the
 * join bucket excepted: see ROOM_JOINS). What must survive (held frames, their
 * counts) is in SQL.
 */

export const MAX_FRAME_BYTES = 64 * 1024;
/** Candidates held per ordered pair until the receiver is ready. */
export const HELD_PER_PAIR = 100;
/** Frames held for one away peer, shared out fairly among its senders (awayShare). */
export const HELD_PER_AWAY_PEER = 256;
/** Held bytes per room, shared out fairly among its peers as senders (heldShare). */
export const HELD_BYTES_PER_ROOM = 1024 * 1024;

/**
 * Relayed bytes from one sender to one receiver per RELAY_WINDOW_MS (a token
 * bucket that holds one window's worth). Measured need (src/protocol.ts):
 * Chromium's offer with a data channel, audio and video is 5.7 KB (6.1 KB
 * with its candidates), a four-track renegotiation 11.3 KB; sealed, a third
 * more; plus candidates, rarely over 30 of about 330 bytes sealed. So one
 * negotiation sends a pair about 20 KB, and 64 KiB is three of them in 10 s,
 * or one frame of the largest size. A receiver of an 8-peer room can be sent
 * at most 7 × 64 KiB = 448 KiB per 10 s, where a stalled receiver used to be
 * sent 79 MB in seconds: workerd has no WebSocket backpressure, so this
 * bounds the rate at which the room buffers for a receiver that stops
 * reading, and read receipts (src/receipts.ts) bound the total per socket.
 */
export const RELAY_BYTES_PER_PAIR = 64 * 1024;
export const RELAY_WINDOW_MS = 10_000;
/** The bucket holds a little more than a window's worth: one frame of the largest size, as relayed (its `from` may be longer than the `to` it replaced). */
const RELAY_BURST_BYTES = RELAY_BYTES_PER_PAIR + 1024;

/**
 * Joins and resumes per room: bursts of 20, one more per second. In memory: a
 * room that hibernated (no event for 10 s) has earned 10 back anyway, so a
 * hibernation at most doubles the burst once; the Worker's per-address limit
 * is the durable bound. Checked before any TURN credentials are issued, so it
 * bounds those calls too.
 */
export const ROOM_JOINS = { burst: 20, perSecond: 1 };
/**
 * A peer's own resumes, when the room's joins are spent: others' churn must
 * not keep an away peer from coming back until its grace period runs out.
 */
export const PEER_RESUMES = { burst: 3, perSecond: 0.1 };
/**
 * One client address's share of a room's joins and resumes: a burst of 5, then
 * one per 5 s, so that no single address can keep the room's bucket empty and
 * lock newcomers out (the room refills at 1 per second). On while the Worker's
 * per-address limit is on (JOIN_RATE_PER_IP), off with it.
 */
export const ADDRESS_JOINS = { burst: 5, perSecond: 0.2 };
/** Buckets kept per room before the full ones, which say nothing, are dropped. */
const MAX_ADDRESS_BUCKETS = 256;

/** A sender's fair share of the frames held for one away peer: its 256, split among the others. */
export function awayShare(maxPeers: number): number {
  return Math.max(1, Math.floor(HELD_PER_AWAY_PEER / Math.max(1, maxPeers - 1)));
}

/**
 * A sender's fair share of the room's held bytes: 1 MiB split among the
 * peers, but never less than one frame of the largest size (so above 16 peers
 * the room's total grows to MAX_PEERS × 64 KiB).
 */
export function heldShare(maxPeers: number): number {
  return Math.max(MAX_FRAME_BYTES, Math.floor(HELD_BYTES_PER_ROOM / maxPeers));
}

/** What one sender has held already, toward one receiver and in the whole room. */
export interface HeldUsage {
  /** Frames in the queue this frame would join: the pair's (`pair`) or the sender's part of the away peer's (`away`). */
  queue: number;
  /** Bytes this sender has held in the room. */
  senderBytes: number;
}

/** Why a frame of `bytes` may not be held, or null when it may. */
export function holdRefusal(kind: "pair" | "away", usage: HeldUsage, bytes: number, maxPeers: number): string | null {
  if (kind === "pair" && usage.queue >= HELD_PER_PAIR) {
    return `at most ${HELD_PER_PAIR} candidates are held per pair until the receiver is ready`;
  }
  if (kind === "away" && usage.queue >= awayShare(maxPeers)) {
    return `the receiver is away; at most ${awayShare(maxPeers)} of your frames are held for it`;
  }
  const share = heldShare(maxPeers);
  if (usage.senderBytes + bytes > share) {
    return `at most ${Math.floor(share / 1024)} KiB of your frames are held in this room`;
  }
  return null;
}

const encoder = new TextEncoder();

/** UTF-8 size of a text frame, without encoding it when the length decides. */
export function exceedsFrameLimit(text: string): boolean {
  if (text.length > MAX_FRAME_BYTES) return true; // every UTF-16 unit is at least one byte
  if (text.length * 3 <= MAX_FRAME_BYTES) return false; // and at most three
  return encoder.encode(text).byteLength > MAX_FRAME_BYTES;
}

/** UTF-8 size of a string, as SQLite stores it and as it goes on the wire. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair is one code point of four bytes (a lone surrogate is encoded as U+FFFD, three).
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** A token bucket: `burst` tokens, refilled at `perSecond`. */
export class TokenBucket {
  #tokens: number;
  #refilledAt: number;

  constructor(
    private readonly settings: { burst: number; perSecond: number },
    now: number,
  ) {
    this.#tokens = settings.burst;
    this.#refilledAt = now;
  }

  /** Takes `cost` tokens if there are that many; false (taking none) if not. */
  take(now: number, cost = 1): boolean {
    this.#refill(now);
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  /** A full bucket is as good as none. */
  isFull(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.settings.burst;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.settings.burst, this.#tokens + (elapsed * this.settings.perSecond) / 1000);
    this.#refilledAt = now;
  }
}

/** Buckets by key, made full on first use. */
class Buckets {
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(private readonly settings: { burst: number; perSecond: number }) {}

  take(key: string, now: number, cost = 1): boolean {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.settings, now);
      this.#buckets.set(key, bucket);
    }
    return bucket.take(now, cost);
  }

  /** Past `max` buckets, drops the full ones: strangers' keys must not grow memory without end. */
  prune(now: number, max: number): void {
    if (this.#buckets.size <= max) return;
    for (const [key, bucket] of this.#buckets) if (bucket.isFull(now)) this.#buckets.delete(key);
  }

  /** Forgets every bucket whose key contains `part` (a peer that is gone). */
  forget(part: string): void {
    for (const key of this.#buckets.keys()) if (key.split("\n").includes(part)) this.#buckets.delete(key);
  }
}

/** The room's join limit, with each known peer's own allowance for resuming. */
export class JoinLimiter {
  readonly #room: TokenBucket;
  readonly #resumes = new Buckets(PEER_RESUMES);
  readonly #addresses = new Buckets(ADDRESS_JOINS);

  constructor(now: number) {
    this.#room = new TokenBucket(ROOM_JOINS, now);
  }

  /**
   * Whether an upgrade may proceed: a join, or the resume of peer `resuming`,
   * from `address` (null: per-address shares are off).
   */
  take(now: number, resuming: string | null, address: string | null): boolean {
    if (address !== null) {
      this.#addresses.prune(now, MAX_ADDRESS_BUCKETS);
      if (!this.#addresses.take(address, now)) return false;
    }
    if (this.#room.take(now)) return true;
    return resuming !== null && this.#resumes.take(resuming, now);
  }

  forget(peer: string): void {
    this.#resumes.forget(peer);
  }
}

/** RELAY_BYTES_PER_PAIR per RELAY_WINDOW_MS for every ordered pair. */
export class RelayBudget {
  readonly #pairs = new Buckets({
    burst: RELAY_BURST_BYTES,
    perSecond: (RELAY_BYTES_PER_PAIR * 1000) / RELAY_WINDOW_MS,
  });

  /** Charges `bytes` from sender to receiver; false (charging nothing) when over budget. */
  take(sender: string, receiver: string, bytes: number, now: number): boolean {
    return this.#pairs.take(`${sender}\n${receiver}`, now, bytes);
  }

  forget(peer: string): void {
    this.#pairs.forget(peer);
  }
}

const FLOOD_DROPS = 500;
const FLOOD_WINDOW_MS = 10_000;
const NOTICE_INTERVAL_MS = 1_000;

/**
 * - `accept`: handle the message.
 * - `drop`: ignore it silently (the sender was told less than a second ago).
 * - `drop-and-notify`: ignore it and send one `rate-limited` error.
 * - `flooding`: 500 drops within 10 s; close and remove the peer.
 */
export type Verdict = "accept" | "drop" | "drop-and-notify" | "flooding";

export interface RateSettings {
  perSecond: number;
  burst: number;
}

/** A token bucket plus a sliding window over the last 500 drops. */
export class RateLimiter {
  readonly #bucket: TokenBucket;
  #noticeAt = Number.NEGATIVE_INFINITY;
  /** Ring buffer of drop times; `#next` is the oldest once it is full. */
  readonly #drops = new Float64Array(FLOOD_DROPS);
  #next = 0;
  #dropCount = 0;

  constructor(settings: RateSettings, now: number) {
    this.#bucket = new TokenBucket(settings, now);
  }

  take(now: number): Verdict {
    if (this.#bucket.take(now)) return "accept";
    if (this.#recordDrop(now)) return "flooding";
    if (now - this.#noticeAt < NOTICE_INTERVAL_MS) return "drop";
    this.#noticeAt = now;
    return "drop-and-notify";
  }

  /** Records a drop; true once the last 500 drops all fall within 10 s. */
  #recordDrop(now: number): boolean {
    this.#drops[this.#next] = now;
    this.#next = (this.#next + 1) % FLOOD_DROPS;
    this.#dropCount = Math.min(this.#dropCount + 1, FLOOD_DROPS);
    const oldest = this.#drops[this.#next] ?? now;
    return this.#dropCount === FLOOD_DROPS && now - oldest < FLOOD_WINDOW_MS;
  }
}
