/**
 * Flood limits: frame size, held-queue caps, and the per-peer rate limiter.
 * Rate-limit state lives in memory on purpose: a room only hibernates when it
 * is idle, and an idle peer's bucket is full anyway.
 */

export const MAX_FRAME_BYTES = 64 * 1024;
/** Candidates held per ordered pair until the receiver is ready. */
export const HELD_PER_PAIR = 100;
/** Frames held for one away peer until it resumes. */
export const HELD_PER_AWAY_PEER = 256;

const FLOOD_DROPS = 500;
const FLOOD_WINDOW_MS = 10_000;
const NOTICE_INTERVAL_MS = 1_000;

const encoder = new TextEncoder();

/** UTF-8 size of a text frame, without encoding it when the length decides. */
export function exceedsFrameLimit(text: string): boolean {
  if (text.length > MAX_FRAME_BYTES) return true; // every UTF-16 unit is at least one byte
  if (text.length * 3 <= MAX_FRAME_BYTES) return false; // and at most three
  return encoder.encode(text).byteLength > MAX_FRAME_BYTES;
}

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
  #tokens: number;
  #refilledAt: number;
  #noticeAt = Number.NEGATIVE_INFINITY;
  /** Ring buffer of drop times; `#next` is the oldest once it is full. */
  readonly #drops = new Float64Array(FLOOD_DROPS);
  #next = 0;
  #dropCount = 0;

  constructor(
    private readonly settings: RateSettings,
    now: number,
  ) {
    this.#tokens = settings.burst;
    this.#refilledAt = now;
  }

  take(now: number): Verdict {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return "accept";
    }
    if (this.#recordDrop(now)) return "flooding";
    if (now - this.#noticeAt < NOTICE_INTERVAL_MS) return "drop";
    this.#noticeAt = now;
    return "drop-and-notify";
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.settings.burst, this.#tokens + (elapsed * this.settings.perSecond) / 1000);
    this.#refilledAt = now;
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
