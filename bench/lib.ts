/**
 * Shared measuring tools: order statistics, ratios, and CPU / memory of a
 * server process tree read from /proc. Every benchmark loop is bounded and
 * every server listens on 127.0.0.1 only.
 */
import { readdirSync, readFileSync } from "node:fs";

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile of a sample. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** `ours / baseline`, as text: "1.23×". */
export function ratio(ours: number, baseline: number): string {
  return Number.isFinite(ours / baseline) ? `${round(ours / baseline, 2)}×` : "n/a";
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const PAGE_SIZE = 4096;

/** Every process in a process group (wrangler and its workerd, say). */
function groupMembers(groupId: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = statFields(Number(entry));
      if (Number(fields[2]) === groupId) members.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return members;
}

/** /proc/<pid>/stat fields after the command name: [0] is the state, [2] the process group. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

export interface Usage {
  cpuSeconds: number;
  rssBytes: number;
}

/** CPU time used so far and resident memory now, summed over a process group. */
export function groupUsage(groupId: number): Usage {
  let ticks = 0;
  let pages = 0;
  for (const pid of groupMembers(groupId)) {
    try {
      const fields = statFields(pid);
      ticks += Number(fields[11]) + Number(fields[12]); // utime + stime
      pages += Number(fields[21]); // rss
    } catch {
      // Gone meanwhile.
    }
  }
  return { cpuSeconds: ticks / TICKS_PER_SECOND, rssBytes: pages * PAGE_SIZE };
}

/** Runs `task` while watching a process group: its CPU seconds and peak RSS. */
export async function watchGroup<T>(groupId: number, task: () => Promise<T>): Promise<{ result: T } & Usage> {
  const before = groupUsage(groupId);
  let peak = before.rssBytes;
  const timer = setInterval(() => {
    peak = Math.max(peak, groupUsage(groupId).rssBytes);
  }, 100);
  try {
    const result = await task();
    const after = groupUsage(groupId);
    return { result, cpuSeconds: after.cpuSeconds - before.cpuSeconds, rssBytes: Math.max(peak, after.rssBytes) };
  } finally {
    clearInterval(timer);
  }
}

export const MiB = 1024 * 1024;

/** Resolves after `ms`; for pacing an offered load, never for synchronisation. */
export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The order of `items` in round `pass` of an interleaved run: a Williams design, a Latin square in which each item
 * follows each other item equally often (over `items.length` rounds, twice that for an odd count). A plain rotation
 * would have each item always follow the same one, and carry over what that one leaves behind (a file just deleted,
 * memory just freed) into the same neighbour's figures every round.
 */
export function balancedOrder<T>(items: readonly T[], pass: number): T[] {
  const n = items.length;
  // The first row: 0, 1, n-1, 2, n-2, …; row r adds r to each.
  const first = Array.from({ length: n }, (_, j) => (j % 2 === 1 ? (j + 1) / 2 : (n - j / 2) % n));
  const row = first.map((i) => items[(i + pass) % n] as T);
  return n % 2 === 1 && Math.floor(pass / n) % 2 === 1 ? row.reverse() : row;
}
