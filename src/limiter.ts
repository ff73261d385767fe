/**
 * The per-address join limit: at most JOIN_RATE_PER_IP room WebSocket
 * upgrades (joins and resumes) per client address in any 60 seconds.
 *
 * The Worker asks one JoinLimiter Durable Object per address (`idFromName` of
 * the address key, as in Cloudflare's chat demo), so the count holds across
 * every isolate and colo that address's requests land on, and under
 * `wrangler dev` alike: one RPC per upgrade, none for requests the Worker
 * refuses anyway.
 *
 * A sliding window log rather than a token bucket: the limit reads "N per
 * minute", and the log keeps exactly that promise (never more than N in any
 * 60 s), where a bucket of N refilled at N per minute lets 2N through in one.
 *
 * The log is in the object's SQLite storage, not in memory: an object that
 * only answers RPCs hibernates after about 10 s idle and loses its memory, so
 * a memory-only log would let an address through again in full every 11 s
 * (six times the limit). Storage costs about one row written per allowed
 * upgrade, far cheaper than pinning the object in memory (a timer) for the
 * window after every join, and the storage is deleted once the window has
 * passed (`alarm`), so an address leaves nothing behind.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "./config";

export const JOIN_WINDOW_MS = 60_000;

export type JoinVerdict = { ok: true } | { ok: false; retryAfterSeconds: number };

const SCHEMA = "CREATE TABLE IF NOT EXISTS upgrades (at INTEGER NOT NULL)";

export class JoinLimiter extends DurableObject<Env> {
  /**
   * Counts one upgrade if fewer than `limit` were counted in the last 60 s.
   * Refused ones are not counted, so an address that keeps knocking is let in
   * again as soon as its oldest upgrade leaves the window. `limit` is the
   * caller's configuration, so a deploy that changes it applies at once.
   */
  async admit(limit: number): Promise<JoinVerdict> {
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    sql.exec(SCHEMA);
    sql.exec("DELETE FROM upgrades WHERE at <= ?", now - JOIN_WINDOW_MS);
    const { count } = sql.exec<{ count: number }>("SELECT count(*) AS count FROM upgrades").one();
    if (count >= limit) return { ok: false, retryAfterSeconds: this.#retryAfterSeconds(count - limit, now) };
    sql.exec("INSERT INTO upgrades (at) VALUES (?)", now);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + JOIN_WINDOW_MS);
    return { ok: true };
  }

  /** Deletes everything once the newest upgrade has left the window; else looks again when it will have. */
  override async alarm(): Promise<void> {
    const sql = this.ctx.storage.sql;
    sql.exec(SCHEMA);
    const { newest } = sql.exec<{ newest: number | null }>("SELECT max(at) AS newest FROM upgrades").one();
    if (newest === null || newest + JOIN_WINDOW_MS <= Date.now()) await this.ctx.storage.deleteAll();
    else await this.ctx.storage.setAlarm(newest + JOIN_WINDOW_MS);
  }

  /** When enough upgrades will have left the window: `excess` more than the limit must, plus one. */
  #retryAfterSeconds(excess: number, now: number): number {
    const { at } = this.ctx.storage.sql
      .exec<{ at: number }>("SELECT at FROM upgrades ORDER BY at LIMIT 1 OFFSET ?", excess)
      .one();
    return Math.max(1, Math.ceil((at + JOIN_WINDOW_MS - now) / 1000));
  }
}

/** The key when a request carries no address: only local setups (a test's `fetch`) omit it. */
export const UNKNOWN_ADDRESS = "unknown";

/**
 * Who an upgrade counts against: its `CF-Connecting-IP`, which Cloudflare
 * sets on every request (and `wrangler dev` too, from the socket). An IPv6
 * address counts as its /64, the block one subscriber gets (RFC 6177), since
 * any one host can pick new addresses inside it at will.
 */
export function addressKey(ip: string | null | undefined): string {
  const address = ip?.trim().toLowerCase() ?? "";
  if (address === "") return UNKNOWN_ADDRESS;
  if (!address.includes(":")) return address;
  const groups = ipv6Groups(address);
  if (groups === null) return address;
  const mappedIpv4 = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (mappedIpv4) return ipv4Of(groups[6] ?? 0, groups[7] ?? 0);
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, or null if it is not one. */
function ipv6Groups(address: string): number[] | null {
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0] ?? "");
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? "") : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  return [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
}

/** Colon-separated hex groups, the last of which may be a dotted IPv4 address (two groups). */
function parseGroups(part: string): number[] | null {
  if (part === "") return [];
  const groups: number[] = [];
  const items = part.split(":");
  for (const [index, item] of items.entries()) {
    if (index === items.length - 1 && item.includes(".")) {
      const octets = item.split(".").map(Number);
      const valid =
        octets.length === 4 && octets.every((octet) => Number.isInteger(octet) && octet >= 0 && octet <= 255);
      if (!valid || !/^[\d.]+$/.test(item)) return null;
      const [a = 0, b = 0, c = 0, d = 0] = octets;
      groups.push((a << 8) | b, (c << 8) | d);
    } else if (/^[0-9a-f]{1,4}$/.test(item)) groups.push(Number.parseInt(item, 16));
    else return null;
  }
  return groups;
}

function ipv4Of(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
}
