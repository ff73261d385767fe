/**
 * A Chromium's process tree read from /proc: which processes it has (browser,
 * renderers, GPU, utilities), their resident memory and CPU time, and CPU
 * time per thread name. Linux only; every read tolerates a process that ends
 * while we look.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** /proc/<pid>/stat fields after the command name: [1] is the parent, [11] utime, [12] stime. */
function statFields(path: string): string[] {
  const stat = readFileSync(path, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Its arguments: Chromium rewrites its children's command lines into one space-separated title. */
function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split(/[\0 ]/);
}

/** The browser process of the Chromium started with `--user-data-dir=<dir>` (not its shell wrapper, not a child). */
export function browserPid(userDataDir: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const pid = Number(entry);
      const args = commandLine(pid);
      if (!args.includes(`--user-data-dir=${userDataDir}`) || args.some((arg) => arg.startsWith("--type="))) continue;
      if (!readlinkSync(`/proc/${pid}/exe`).includes("chromium")) continue;
      return pid;
    } catch {
      // Gone, or not ours to read.
    }
  }
  throw new Error(`no Chromium with --user-data-dir=${userDataDir}`);
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = Number(statFields(`/proc/${entry}/stat`)[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // Ended meanwhile.
    }
  }
  const tree: number[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** "browser", "renderer", "gpu-process", "zygote", "utility:NetworkService", … */
export function processKind(pid: number): string {
  const args = commandLine(pid);
  const type = args.find((arg) => arg.startsWith("--type="))?.slice(7);
  if (!type) return "browser";
  const sub = args.find((arg) => arg.startsWith("--utility-sub-type="))?.slice(19);
  return sub ? `${type}:${sub.split(".").pop()}` : type;
}

export interface ProcessSample {
  pid: number;
  kind: string;
  /** VmRSS, and its anonymous and shared-memory parts, in KiB. */
  rssKiB: number;
  anonKiB: number;
  shmemKiB: number;
  cpuSeconds: number;
}

function status(pid: number): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const match = /^(VmRSS|RssAnon|RssShmem):\s+(\d+) kB/.exec(line);
    if (match?.[1] && match[2]) fields[match[1]] = Number(match[2]);
  }
  return fields;
}

/** Every process of one browser now (or of `tree`, its processes as last listed): kind, memory, CPU time so far. */
export function sampleBrowser(root: number, tree = processTree(root)): ProcessSample[] {
  const samples: ProcessSample[] = [];
  for (const pid of tree) {
    try {
      const fields = statFields(`/proc/${pid}/stat`);
      const memory = status(pid);
      samples.push({
        pid,
        kind: processKind(pid),
        rssKiB: memory.VmRSS ?? 0,
        anonKiB: memory.RssAnon ?? 0,
        shmemKiB: memory.RssShmem ?? 0,
        cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
      });
    } catch {
      // Ended meanwhile.
    }
  }
  return samples;
}

/** CPU seconds so far per thread name ("CrRendererMain", "WebRTC_Network", …), summed over `pids`. */
export function threadCpu(pids: number[]): Map<string, number> {
  const byName = new Map<string, number>();
  for (const pid of pids) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, "utf8");
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/\d+$/, "");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
        byName.set(name, (byName.get(name) ?? 0) + seconds);
      } catch {
        // Ended meanwhile.
      }
    }
  }
  return byName;
}

/** `after - before` per key, keeping those that moved. */
export function cpuDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, seconds] of after) {
    const used = seconds - (before.get(name) ?? 0);
    if (used > 0) delta.set(name, used);
  }
  return delta;
}

/** Sum of a field over the samples whose kind matches. */
export function sumOf(
  samples: ProcessSample[],
  field: "rssKiB" | "anonKiB" | "shmemKiB" | "cpuSeconds",
  kind?: string,
) {
  return samples.filter((sample) => !kind || sample.kind === kind).reduce((total, sample) => total + sample[field], 0);
}

/** Whether a process has a thread whose name starts with `prefix` ("WebRTC": a page's renderer that uses WebRTC). */
export function hasThread(pid: number, prefix: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((task) => {
      try {
        return readFileSync(`/proc/${pid}/task/${task}/comm`, "utf8").startsWith(prefix);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}
