/**
 * Whether a server was working, starved or idle while a mesh formed: the
 * scheduler's own accounting of a process group's threads (on a CPU, and
 * runnable but waiting for one, from /proc/<pid>/task/<tid>/schedstat), and
 * the machine's CPU and I/O pressure (PSI, /proc/pressure: the share of the
 * time in which some task waited for a CPU, or for I/O). Linux only; each
 * reading is zero where /proc does not have it.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface SchedSample {
  /** Nanoseconds on a CPU, and runnable but waiting for one, summed over the group's threads. */
  runNs: number;
  waitNs: number;
  /** PSI `some` totals, microseconds. */
  cpuPressureUs: number;
  ioPressureUs: number;
  at: number;
}

export interface SchedDelta {
  /** The server's threads: ms on a CPU, ms runnable but waiting. */
  serverCpuMs: number;
  serverWaitMs: number;
  /** Share of the window in which some task on the machine waited for a CPU / for I/O. */
  cpuPressure: number;
  ioPressure: number;
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The process group of a process (field 5 of /proc/<pid>/stat), or -1. */
function groupOf(pid: string): number {
  const stat = read(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2] ?? -1);
}

function pressureTotal(resource: "cpu" | "io"): number {
  return Number(/^some .*total=(\d+)/m.exec(read(`/proc/pressure/${resource}`))?.[1] ?? 0);
}

/** One reading; `group` 0 reads this process alone. */
export function sched(group: number): SchedSample {
  let runNs = 0;
  let waitNs = 0;
  const pids = group === 0 ? [String(process.pid)] : readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  for (const pid of pids) {
    if (group !== 0 && groupOf(pid) !== group) continue;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const task of tasks) {
      const [run, wait] = read(`/proc/${pid}/task/${task}/schedstat`).split(" ").map(Number);
      runNs += run ?? 0;
      waitNs += wait ?? 0;
    }
  }
  return { runNs, waitNs, cpuPressureUs: pressureTotal("cpu"), ioPressureUs: pressureTotal("io"), at: Date.now() };
}

export function schedDelta(before: SchedSample, after: SchedSample): SchedDelta {
  const windowUs = Math.max(1, (after.at - before.at) * 1000);
  const share = (us: number) => Math.round((us / windowUs) * 100) / 100;
  return {
    serverCpuMs: Math.round((after.runNs - before.runNs) / 1e6),
    serverWaitMs: Math.round((after.waitNs - before.waitNs) / 1e6),
    cpuPressure: share(after.cpuPressureUs - before.cpuPressureUs),
    ioPressure: share(after.ioPressureUs - before.ioPressureUs),
  };
}
