/**
 * File transfer between two Chromiums, each a persistent profile of its own
 * (a normal, on-disk profile: an incognito-like context would keep the
 * Origin Private File System and large Blobs in memory). Every file is
 * picked from disk through a file input, as a person picks one.
 *
 * - Throughput, interleaved: `room.sendFile` against a raw data-channel loop
 *   (1 MiB / 4 MiB watermarks, in the same pages) as the issue's baseline
 *   ran it, reading the file a slice of 1 MiB at a time and sending 64 KiB
 *   frames, and against the same loop reading and framing as sendFile does
 *   (one stream into one buffer, 256 KiB frames); against that loop doing
 *   the least any checked, stored transfer must (the floor: sendFile's
 *   block check, MurmurHash3, over every byte on both sides, every byte
 *   written to OPFS), and storing only;
 *   and against the room app (public/room.html: the file input, the
 *   transfers list) sending the same file. `pin` holds each browser to a
 *   core of its own, as two peers on two machines.
 * - Where the CPU goes: a CDP CPU profile of both pages' main threads during
 *   one sendFile and one raw loop, with CPU seconds per thread and process.
 * - Memory: the renderers' resident memory while a large file (1 GiB by
 *   default) and a small one go through sendFile, interleaved.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { type BrowserContext, type CDPSession, chromium, type Page } from "playwright-core";
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from "../test/e2e/chromium.ts";
import { type CallFrame, type Profile, type SelfTime, selfTimes, sourceMapper } from "./cpuprofile.ts";
import { balancedOrder, MiB, median, ratio, round } from "./lib.ts";
import {
  browserPid,
  cpuDelta,
  hasThread,
  type ProcessSample,
  processTree,
  sampleBrowser,
  sumOf,
  threadCpu,
} from "./procs.ts";

export interface FilesOptions {
  /** The file of the throughput rounds (MiB), and a smaller one. */
  mib: number;
  smallMib: number;
  rounds: number;
  /** The memory part's large file (MiB; 0 skips the part), its rounds, and its bound per transfer. */
  bigMib: number;
  memoryRounds: number;
  bigTimeoutMs: number;
  /** The whole memory part's time budget: no transfer starts or goes on past it. */
  memoryBudgetMs: number;
  /** Take the CPU profiles. */
  profile: boolean;
  /** Each browser on a core of its own (`taskset`), as two peers on two machines: no browser's work takes the other's CPU. */
  pin: boolean;
}

/**
 * "raw" reads the file a slice per block and sends 64 KiB frames (the issue's baseline); "raw-matched" reads through
 * a stream and sends 256 KiB frames, as sendFile does between two Chromiums; "raw-floor" is raw-matched doing only
 * what any transfer that checks and stores the file must: sendFile's block check over every byte on both sides
 * (MurmurHash3; SHA-256 in results before 2026-12-03T09:30Z), and every byte written to OPFS; "raw-store" only
 * stores. ("raw-stream", in earlier results, read through a stream and sent 64 KiB frames.)
 */
type Kind = "sendFile" | "raw" | "raw-matched" | "raw-floor" | "raw-store" | "app";
type RawKind = Extract<Kind, `raw${string}`>;
const isRaw = (kind: Kind): kind is RawKind => kind.startsWith("raw");

export interface FileRun {
  kind: Kind;
  mib: number;
  round: number;
  ms: number;
  mbPerSecond: number;
  /** From the pick (sendFile's call) until the receiving page had the file: its `file` event, or the app's link. */
  receivedMs: number | null;
  receiverPeakHeapMiB: number;
  /** CPU seconds of every process of each browser during the transfer. */
  senderCpuSeconds: number;
  receiverCpuSeconds: number;
  load1: number;
}

export interface MemoryRun {
  kind: "sendFile" | "raw";
  mib: number;
  round: number;
  /** Whether it ran out of time and was cancelled, after sending `sentMiB` (sendFile's `loaded`). */
  timedOut: boolean;
  sentMiB: number;
  mbPerSecond: number;
  /** The receiver's origin storage in use when the file had arrived (OPFS, before release); null for the raw loop. */
  receiverStoredMiB: number | null;
  /** The two pages' renderer processes, resident memory summed (MiB): before, peak while sampled every 250 ms, growth; and the growth of its private anonymous part. */
  rendererBaselineMiB: number;
  rendererPeakMiB: number;
  /** The median of the samples: the level the renderers keep while the file goes through. */
  rendererMedianMiB: number;
  rendererGrowthMiB: number;
  rendererAnonGrowthMiB: number;
  senderRendererGrowthMiB: number;
  receiverRendererGrowthMiB: number;
  /** Every process of both browsers (browser, GPU, network, storage, renderers), but the on-device model service. */
  totalBaselineMiB: number;
  totalPeakMiB: number;
  totalGrowthMiB: number;
  /** Peak minus before, per side and process kind, where it moved by 1 MiB or more. */
  growthByKindMiB: Record<string, number>;
  receiverPeakHeapMiB: number;
  samples: number;
  /** Every second: [seconds since the start, sender's page renderer RSS MiB, receiver's]. */
  series: number[][];
  load1: number;
}

export interface ProfileRun {
  kind: Kind;
  mib: number;
  mbPerSecond: number;
  sender: SelfTime[];
  receiver: SelfTime[];
  /** CPU seconds per thread name over each browser's renderers, and per process kind over each browser. */
  senderThreads: Record<string, number>;
  receiverThreads: Record<string, number>;
  senderProcesses: Record<string, number>;
  receiverProcesses: Record<string, number>;
  /** The page's own counters over the transfer (CDP Performance.getMetrics): layouts, style recalcs, their seconds, script and task seconds. */
  senderRendering: Record<string, number>;
  receiverRendering: Record<string, number>;
}

interface Peer {
  dir: string;
  context: BrowserContext;
  pid: number;
  lib: Page;
  cdp: CDPSession;
  app: Page | null;
}

const now = "performance.timeOrigin + performance.now()";

const load1 = () => round(loadavg()[0] ?? 0, 2);

/** Rejects after `ms`: no wait in this benchmark is unbounded. */
function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A file of random-looking bytes on disk, written 1 MiB at a time (each MiB stamped with its index). */
function writeFile(path: string, mib: number): void {
  const block = new Uint8Array(MiB);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let at = 65536; at < MiB; at += 65536) block.copyWithin(at, 0, 65536);
  for (let at = 0; at < MiB; at += 4096) block[at] = at >> 12;
  const fd = openSync(path, "w");
  try {
    for (let i = 0; i < mib; i++) {
      new DataView(block.buffer).setUint32(8, i);
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
}

/** `cpu`: the core to hold the browser and every process it starts to, or null for any. */
async function launch(dir: string, cpu: number | null): Promise<{ context: BrowserContext; pid: number }> {
  mkdirSync(dir, { recursive: true });
  let executablePath = CHROMIUM_PATH;
  if (cpu !== null) {
    if (cpu >= availableParallelism()) throw new Error(`--files-pin: no core ${cpu} here (${availableParallelism()})`);
    // The browser's processes inherit its affinity; exec keeps the pid the profile's lock names.
    executablePath = join(dir, "..", `chromium-cpu${cpu}.sh`);
    writeFileSync(executablePath, `#!/bin/sh\nexec taskset -c ${cpu} ${CHROMIUM_PATH} "$@"\n`, { mode: 0o755 });
  }
  const context = await chromium.launchPersistentContext(dir, { executablePath, args: CHROMIUM_FLAGS });
  return { context, pid: browserPid(dir) };
}

/** Page script: waits until window.raw has gathered every candidate (the raw baseline does not trickle). */
const GATHERED = `await new Promise((r) => {
      if (window.raw.iceGatheringState === "complete") r();
      else window.raw.onicegatheringstatechange = () => window.raw.iceGatheringState === "complete" && r();
    });`;

/** The library's block check (src/client/murmur.ts) as a script that sets `window.murmur3`, for the floor. */
function murmurScript(): string {
  const entry = fileURLToPath(new URL("../src/client/murmur.ts", import.meta.url));
  const built = buildSync({
    entryPoints: [entry],
    bundle: true,
    format: "iife",
    globalName: "rdvMurmur",
    write: false,
  });
  return `${built.outputFiles[0]?.text}; void (window.murmur3 = rdvMurmur.murmur3)`;
}

/** A library page: a room, a file input, and the receiver's `file` events timed. */
async function libraryPage(page: Page, base: string, room: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.evaluate(`import("/mesh.js").then((m) => {
    window.room = m.joinRoom(${JSON.stringify(room)});
    window.connected = new Promise((resolve) => window.room.addEventListener("peer-connect", resolve));
    // Every state a peer went through: a loaded machine can drop a connection, which the library restores.
    window.states = [];
    window.room.addEventListener("peer-state", ({ detail }) => window.states.push(detail.peer.state));
    window.room.addEventListener("file", ({ detail }) => {
      // Only the time and the transfer (to release its stored copy): the blob itself is dropped.
      window.arrived?.({ at: ${now}, size: detail.size });
      window.received = detail.transfer ?? null;
    });
    const input = document.createElement("input");
    input.type = "file";
    input.id = "bench-input";
    document.body.append(input);
  })`);
}

/** The library pages of both peers, connected in a room, plus a raw connection set up by the harness. */
async function connectLibraries(sender: Page, receiver: Page, base: string): Promise<string> {
  const room = `files-${Date.now()}`;
  await libraryPage(sender, base, room);
  await libraryPage(receiver, base, room);
  await bounded(Promise.all([sender, receiver].map((page) => page.evaluate("window.connected"))), 60_000, "connect");
  const offer = await sender.evaluate(`(async () => {
    window.raw = new RTCPeerConnection();
    window.rawChannel = window.raw.createDataChannel("raw");
    window.rawChannel.binaryType = "arraybuffer";
    await window.raw.setLocalDescription();
    ${GATHERED}
    return window.raw.localDescription.sdp;
  })()`);
  const answer = await receiver.evaluate(`(async () => {
    window.raw = new RTCPeerConnection();
    window.rawOpen = new Promise((r) => (window.raw.ondatachannel = ({ channel }) => { channel.binaryType = "arraybuffer"; window.rawChannel = channel; channel.onopen = r; }));
    await window.raw.setRemoteDescription({ type: "offer", sdp: ${JSON.stringify(offer)} });
    await window.raw.setLocalDescription();
    ${GATHERED}
    return window.raw.localDescription.sdp;
  })()`);
  await bounded(
    sender.evaluate(`(async () => {
      const open = new Promise((r) => (window.rawChannel.onopen = r));
      await window.raw.setRemoteDescription({ type: "answer", sdp: ${JSON.stringify(answer)} });
      await open;
    })()`),
    30_000,
    "raw channel",
  );
  await bounded(receiver.evaluate("window.rawOpen"), 30_000, "raw channel");
  return String(await receiver.evaluate("window.room.id"));
}

/** The room app, entered under `name`; its change events and transfer rows timed. */
async function appPage(page: Page, base: string, room: string, name: string): Promise<void> {
  await page.goto(`${base}/r/${room}`);
  await page.locator("#name-input").fill(name);
  await page.locator("#name-submit").click();
  await page.evaluate(`(() => {
    // Capture on the document: runs before the app's own listener on the input.
    document.addEventListener("change", (event) => {
      if (event.target.id === "file-input") window.picked = ${now};
    }, true);
  })()`);
}

const connectedPeer = (page: Page) =>
  page.locator('#peers li[data-peer-id][data-state="connected"]').first().waitFor({ timeout: 60_000 });

/** Puts the file at `path` into the library page's input: a disk-backed File, as a person picks it. */
async function pick(page: Page, path: string): Promise<void> {
  await page.locator("#bench-input").setInputFiles(path);
  await page.evaluate(`void (window.file = document.getElementById("bench-input").files[0])`);
}

/** Samples the page's used JS heap every 100 ms while `task` runs; resolves with the peak (MiB). */
async function peakHeap<T>(session: CDPSession, task: () => Promise<T>): Promise<{ result: T; heapMiB: number }> {
  let peak = 0;
  const sample = async () => {
    const { metrics } = await session.send("Performance.getMetrics");
    const used = metrics.find((metric) => metric.name === "JSHeapUsedSize")?.value ?? 0;
    peak = Math.max(peak, used);
  };
  await sample();
  const timer = setInterval(() => void sample().catch(() => undefined), 100);
  try {
    const result = await task();
    await sample();
    return { result, heapMiB: round(peak / MiB) };
  } finally {
    clearInterval(timer);
  }
}

interface Timed {
  ms: number;
  receivedMs: number | null;
  /** What the receiver's origin stored (navigator.storage.estimate) once it had the file, before release. */
  storedMiB?: number;
}

/** sendFile of window.file: from the call until `done` (every receiver confirmed the file intact). */
async function sendFileOnce(sender: Page, receiver: Page, receiverId: string, timeoutMs: number): Promise<Timed> {
  // void: an evaluated expression that is a promise would be awaited.
  await receiver.evaluate("void (window.next = new Promise((r) => (window.arrived = r)))");
  const sent = (await bounded(
    sender.evaluate(`(async () => {
      // A connection the machine's load interrupted is restored by the library: wait for it (bounded by the caller).
      while (window.room.peers.get(${JSON.stringify(receiverId)})?.state !== "connected") await new Promise((r) => setTimeout(r, 100));
      const started = performance.now();
      window.current = window.room.sendFile(window.file, { to: ${JSON.stringify(receiverId)} });
      await window.current.done;
      return { ms: performance.now() - started, startedAt: performance.timeOrigin + started };
    })()`),
    timeoutMs,
    "sendFile",
  )) as { ms: number; startedAt: number };
  const arrived = (await bounded(receiver.evaluate("window.next"), 10_000, "file event")) as { at: number };
  const usage = await receiver.evaluate("navigator.storage.estimate().then((estimate) => estimate.usage)");
  await release(receiver);
  return { ms: sent.ms, receivedMs: arrived.at - sent.startedAt, storedMiB: round(Number(usage) / MiB) };
}

/** Frees the receiver's stored copy where the library offers it (`transfer.release()`). */
async function release(receiver: Page): Promise<void> {
  await bounded(
    receiver.evaluate(`(async () => {
      const transfer = window.received;
      window.received = null;
      if (transfer && typeof transfer.release === "function") await transfer.release();
    })()`),
    30_000,
    "release",
  );
}

/**
 * The raw loop: sendFile's watermarks, no protocol; the receiver
 * acknowledges the last byte. It reads each 1 MiB block as a slice of its
 * own and sends it in 64 KiB frames ("raw"), or reads them all through
 * one stream into one buffer and sends 256 KiB frames ("raw-matched", as
 * sendFile reads and frames between two Chromiums). "raw-floor" adds the
 * least that checking and storing a file takes, as cheaply as it can be
 * done: the sender hashes each block with sendFile's check (MurmurHash3, as
 * it is read), the receiver each frame as it comes, and hands it, unjoined
 * and uncopied, to a worker that writes it through a sync access handle into
 * OPFS (the file opened before the clock starts). It acknowledges once every
 * byte is hashed and written: no transfer that checks and stores every byte
 * so can be faster, so its rate over the raw loop's is the ceiling of
 * sendFile's.
 * "raw-store" stores and does not hash: the ceiling of any integrity check.
 */
async function rawOnce(
  sender: Page,
  receiver: Page,
  bytes: number,
  kind: RawKind,
  timeoutMs = 120_000,
): Promise<Timed> {
  const hash = kind === "raw-floor";
  const floor = hash || kind === "raw-store";
  if (floor) await openFloorFile(receiver);
  await receiver.evaluate(`(() => {
    let received = 0;
    const digests = [];
    window.rawChannel.onmessage = async ({ data }) => {
      received += data.byteLength;
      if (${floor}) {
        if (${hash}) digests.push(window.murmur3(new Uint8Array(data))); // before the buffer goes to the worker
        window.floorWorker.postMessage({ op: "write", bytes: data, file: 1 }, [data]);
      }
      if (received !== ${bytes}) return;
      if (${floor}) {
        await Promise.all(digests);
        // Every write is answered, in order, and the close last: its answer is the one without a buffer.
        await new Promise((r) => {
          window.floorWorker.onmessage = ({ data }) => (!data.ok || !data.written) && r();
          window.floorWorker.postMessage({ op: "close", file: 1 });
        });
      }
      window.rawChannel.send("ok");
    };
  })()`);
  const frame = kind === "raw" ? 64 * 1024 : 256 * 1024;
  const read =
    kind === "raw"
      ? "(offset) => window.file.slice(offset, offset + 1024 * 1024).arrayBuffer().then((bytes) => new Uint8Array(bytes))"
      : `(() => {
          const reader = window.file.stream().getReader();
          const block = new Uint8Array(1024 * 1024);
          let rest = null;
          return async (offset) => {
            const size = Math.min(block.length, window.file.size - offset);
            for (let filled = 0; filled < size; ) {
              const chunk = rest ?? (await reader.read()).value;
              const taken = Math.min(chunk.length, size - filled);
              block.set(chunk.subarray(0, taken), filled);
              rest = taken < chunk.length ? chunk.subarray(taken) : null;
              filled += taken;
            }
            return block.subarray(0, size);
          };
        })()`;
  const ms = await bounded(
    sender.evaluate(`(async () => {
      const channel = window.rawChannel;
      channel.bufferedAmountLowThreshold = 1024 * 1024;
      const acknowledged = new Promise((r) => (channel.onmessage = r));
      const read = ${read};
      const digests = [];
      const started = performance.now();
      window.stopRaw = false;
      for (let offset = 0; offset < window.file.size && !window.stopRaw; offset += 1024 * 1024) {
        const block = await read(offset);
        if (${hash}) digests.push(window.murmur3(block));
        for (let at = 0; at < block.length; at += ${frame}) {
          if (channel.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => channel.addEventListener("bufferedamountlow", r, { once: true }));
          channel.send(block.subarray(at, at + ${frame}));
        }
      }
      await Promise.all(digests);
      await acknowledged;
      return performance.now() - started;
    })()`),
    timeoutMs,
    "raw loop",
  );
  if (floor) {
    // It wrote what it was sent: a floor that skipped the work would be no floor.
    const stored = await receiver.evaluate(`(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle("rendezvous-incoming");
      const { size } = await (await dir.getFileHandle("bench-floor")).getFile();
      await dir.removeEntry("bench-floor");
      return size;
    })()`);
    if (stored !== bytes) throw new Error(`the floor stored ${stored} bytes of ${bytes}`);
  }
  return { ms: Number(ms), receivedMs: null };
}

/**
 * The floor's file, new and empty, open for writing in the library's own disk worker (public/disk-worker.js; the
 * page's CSP allows no other): written through a sync access handle, as sendFile's receiver writes.
 */
async function openFloorFile(receiver: Page): Promise<void> {
  await bounded(
    receiver.evaluate(`(async () => {
      if (!window.floorWorker) {
        // Held while the page lives, so that no page's sweep takes the file for a closed page's (src/client/disk.ts).
        await new Promise((held) => navigator.locks.request("rendezvous-incoming/bench-floor", () => (held(), new Promise(() => {}))));
        window.floorWorker = new Worker("/disk-worker.js", { name: "bench floor" });
      }
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle("rendezvous-incoming", { create: true });
      await dir.getFileHandle("bench-floor", { create: true });
      const answer = await new Promise((r) => {
        window.floorWorker.onmessage = ({ data }) => r(data);
        window.floorWorker.postMessage({ op: "open", name: "bench-floor", file: 1 });
      });
      if (!answer.ok) throw new Error(answer.message);
    })()`),
    30_000,
    "the floor's file",
  );
}

/**
 * The app: the file is picked in the sender's file input; timed from its
 * change event until the sender's row says done (data-state="done": the
 * receiver confirmed the file intact, what sendFile's `done` means), and
 * until the receiver's row offers the download link.
 */
async function appOnce(sender: Page, receiver: Page, path: string): Promise<Timed> {
  await sender.evaluate(`(() => {
    window.picked = 0;
    window.ended = new Promise((resolve) => {
      const list = document.getElementById("transfers");
      const observer = new MutationObserver(() => {
        const row = list.querySelector('li.transfer[data-direction="sending"]:not([data-state="active"])');
        if (!row) return;
        observer.disconnect();
        resolve({ state: row.dataset.state, at: ${now}, picked: window.picked });
      });
      observer.observe(list, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
    });
  })()`);
  await receiver.evaluate(`(() => {
    window.linked = new Promise((resolve) => {
      const list = document.getElementById("transfers");
      const observer = new MutationObserver(() => {
        if (!list.querySelector("li.transfer a[download]")) return;
        observer.disconnect();
        resolve(${now});
      });
      observer.observe(list, { subtree: true, childList: true });
    });
  })()`);
  await connectedPeer(sender);
  await sender.locator("#file-input").setInputFiles(path);
  const ended = (await bounded(sender.evaluate("window.ended"), 120_000, "app transfer")) as {
    state: string;
    at: number;
    picked: number;
  };
  if (ended.state !== "done" || !ended.picked) throw new Error(`app transfer ${ended.state}`);
  const linked = Number(await bounded(receiver.evaluate("window.linked"), 10_000, "download link"));
  // As a person would: remove both rows, which frees the download's object URL.
  for (const page of [sender, receiver]) {
    await page.evaluate(
      `document.querySelectorAll('#transfers button[aria-label^="Remove"]').forEach((b) => b.click())`,
    );
  }
  return { ms: ended.at - ended.picked, receivedMs: linked - ended.picked };
}

const cpuOf = (peer: Peer) => sumOf(sampleBrowser(peer.pid), "cpuSeconds");

/**
 * One moment of both browsers, in KiB: the two pages' renderers (RSS, and its
 * private anonymous part), and every process. Chromium's on-device model
 * service, which starts on its own some minutes after launch, is left out of
 * the total (it is in `byKind`).
 */
interface Footprint {
  pageRss: number;
  pageAnon: number;
  senderPageRss: number;
  receiverPageRss: number;
  totalRss: number;
  /** RSS per side and process kind ("receiver browser", "sender renderer (page)", …). */
  byKind: Record<string, number>;
}

const UNRELATED = "utility:OnDeviceModelService";

/** The renderer of each browser's page: the one that runs WebRTC (not the spare, not headless's own UI). */
function pageRenderers(peers: Peer[]): Set<number> {
  const pids = peers.flatMap((peer) =>
    sampleBrowser(peer.pid)
      .filter((sample) => sample.kind === "renderer" && hasThread(sample.pid, "WebRTC"))
      .map((sample) => sample.pid),
  );
  if (pids.length !== peers.length) throw new Error(`one WebRTC renderer per browser expected, found ${pids.length}`);
  return new Set(pids);
}

function footprint(sender: Peer, receiver: Peer, pages: Set<number>, trees: number[][]): Footprint {
  const sides = [
    ["sender", sampleBrowser(sender.pid, trees[0])],
    ["receiver", sampleBrowser(receiver.pid, trees[1])],
  ] as const;
  const sum = (side: string | null, pick: (sample: ProcessSample) => number, only: (pid: number) => boolean) =>
    sides
      .filter(([name]) => side === null || name === side)
      .flatMap(([, samples]) => samples)
      .filter((sample) => only(sample.pid))
      .reduce((total, sample) => total + pick(sample), 0);
  const isPage = (pid: number) => pages.has(pid);
  const byKind: Record<string, number> = {};
  for (const [side, samples] of sides) {
    for (const sample of samples) {
      const kind = `${side} ${sample.kind}${sample.kind === "renderer" ? (isPage(sample.pid) ? " (page)" : " (other)") : ""}`;
      byKind[kind] = (byKind[kind] ?? 0) + sample.rssKiB;
    }
  }
  return {
    pageRss: sum(null, (sample) => sample.rssKiB, isPage),
    pageAnon: sum(null, (sample) => sample.anonKiB, isPage),
    senderPageRss: sum("sender", (sample) => sample.rssKiB, isPage),
    receiverPageRss: sum("receiver", (sample) => sample.rssKiB, isPage),
    totalRss: sum(
      null,
      (sample) => (sample.kind === UNRELATED ? 0 : sample.rssKiB),
      () => true,
    ),
    byKind,
  };
}

/** Samples both browsers every 250 ms while `task` runs: the footprint before, and each field's peak. */
async function watchMemory<T>(
  sender: Peer,
  receiver: Peer,
  task: () => Promise<T>,
): Promise<{ result: T; before: Footprint; peak: Footprint; samples: number; series: number[][]; pageRss: number[] }> {
  const pages = pageRenderers([sender, receiver]);
  // The process trees are listed again every 2 s (a full /proc scan), their processes read every 250 ms.
  let trees: number[][] = [];
  const before = footprint(sender, receiver, pages, trees);
  const peak = { ...before, byKind: { ...before.byKind } };
  const started = performance.now();
  const series: number[][] = [];
  const pageRss: number[] = [];
  let samples = 0;
  const sample = () => {
    if (samples % 8 === 0) trees = [processTree(sender.pid), processTree(receiver.pid)];
    const now = footprint(sender, receiver, pages, trees);
    pageRss.push(now.pageRss);
    if (samples % 4 === 0) {
      const seconds = round((performance.now() - started) / 1000);
      series.push([seconds, mibOf(now.senderPageRss), mibOf(now.receiverPageRss)]);
    }
    for (const key of ["pageRss", "pageAnon", "senderPageRss", "receiverPageRss", "totalRss"] as const) {
      peak[key] = Math.max(peak[key], now[key]);
    }
    for (const [kind, kib] of Object.entries(now.byKind)) peak.byKind[kind] = Math.max(peak.byKind[kind] ?? 0, kib);
    samples += 1;
  };
  const timer = setInterval(sample, 250);
  try {
    const result = await task();
    sample();
    return { result, before, peak, samples, series, pageRss };
  } finally {
    clearInterval(timer);
  }
}

async function collectGarbage(peers: Peer[]): Promise<void> {
  for (const peer of peers) await peer.cdp.send("HeapProfiler.collectGarbage");
}

const mibOf = (kib: number) => round(kib / 1024);

/** One file through sendFile or the raw loop, both browsers' memory watched; bounded by `timeoutMs`. */
async function memoryOnce(
  sender: Peer,
  receiver: Peer,
  receiverId: string,
  kind: "sendFile" | "raw",
  mib: number,
  pass: number,
  timeoutMs: number,
): Promise<MemoryRun> {
  // A common start: both heaps collected, then a moment to settle.
  await collectGarbage([sender, receiver]);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  let timedOut = false;
  let sentMiB = mib;
  const watched = await watchMemory(sender, receiver, () =>
    peakHeap(receiver.cdp, async (): Promise<Timed> => {
      try {
        if (kind === "raw") return await rawOnce(sender.lib, receiver.lib, mib * MiB, "raw", timeoutMs);
        return await sendFileOnce(sender.lib, receiver.lib, receiverId, timeoutMs);
      } catch (error) {
        if (!String(error).includes("no answer")) throw error;
        timedOut = true;
        const loaded = await sender.lib.evaluate(`(() => {
          window.stopRaw = true;
          const loaded = window.current?.loaded ?? Number.NaN;
          window.current?.cancel();
          return loaded;
        })()`);
        sentMiB = kind === "sendFile" ? round(Number(loaded) / MiB) : Number.NaN;
        return { ms: Number.NaN, receivedMs: null };
      }
    }),
  );
  const { before, peak } = watched;
  const run: MemoryRun = {
    kind,
    mib,
    round: pass + 1,
    timedOut,
    sentMiB,
    mbPerSecond: round((mib * MiB) / 1e6 / (watched.result.result.ms / 1000)),
    receiverStoredMiB: watched.result.result.storedMiB ?? null,
    rendererBaselineMiB: mibOf(before.pageRss),
    rendererPeakMiB: mibOf(peak.pageRss),
    rendererMedianMiB: mibOf(median(watched.pageRss)),
    rendererGrowthMiB: mibOf(peak.pageRss - before.pageRss),
    rendererAnonGrowthMiB: mibOf(peak.pageAnon - before.pageAnon),
    senderRendererGrowthMiB: mibOf(peak.senderPageRss - before.senderPageRss),
    receiverRendererGrowthMiB: mibOf(peak.receiverPageRss - before.receiverPageRss),
    totalBaselineMiB: mibOf(before.totalRss),
    totalPeakMiB: mibOf(peak.totalRss),
    totalGrowthMiB: mibOf(peak.totalRss - before.totalRss),
    growthByKindMiB: Object.fromEntries(
      Object.entries(peak.byKind)
        .map(([kind, kib]) => [kind, mibOf(kib - (before.byKind[kind] ?? 0))] as const)
        .filter(([, mib]) => mib >= 1),
    ),
    receiverPeakHeapMiB: watched.result.heapMiB,
    samples: watched.samples,
    series: watched.series,
    load1: load1(),
  };
  process.stderr.write(
    `files: memory, ${kind} ${mib} MiB round ${pass + 1}: ${run.mbPerSecond} MB/s, page renderers ${run.rendererBaselineMiB} → ${run.rendererPeakMiB} MiB (anon +${run.rendererAnonGrowthMiB}), all ${run.totalBaselineMiB} → ${run.totalPeakMiB} MiB ${JSON.stringify(run.growthByKindMiB)}${timedOut ? ` (timed out after ${sentMiB} MiB)` : ""}\n`,
  );
  return run;
}

const RENDERING = [
  "LayoutCount",
  "RecalcStyleCount",
  "LayoutDuration",
  "RecalcStyleDuration",
  "ScriptDuration",
  "TaskDuration",
];

/** The page's rendering and task counters now. */
async function rendering(session: CDPSession): Promise<Record<string, number>> {
  const { metrics } = await session.send("Performance.getMetrics");
  return Object.fromEntries(metrics.filter((metric) => RENDERING.includes(metric.name)).map((m) => [m.name, m.value]));
}

const record = (map: Map<string, number>, top = 12): Record<string, number> =>
  Object.fromEntries(
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, seconds]) => [name, round(seconds, 2)]),
  );

function processCpu(samples: ProcessSample[]): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const sample of samples) byKind.set(sample.kind, (byKind.get(sample.kind) ?? 0) + sample.cpuSeconds);
  return byKind;
}

/** One sendFile or raw loop with both main threads profiled and every thread's CPU time counted. */
async function profileOnce(
  sender: Peer,
  receiver: Peer,
  receiverId: string,
  kind: Kind,
  mib: number,
  base: string,
  path: string,
): Promise<ProfileRun> {
  const peers = [sender, receiver];
  const pages = peers.map((peer) => (kind === "app" ? peer.app : peer.lib) as Page);
  const sessions = await Promise.all(
    peers.map((peer, i) => (kind === "app" ? peer.context.newCDPSession(pages[i] as Page) : peer.cdp)),
  );
  const rendererPids = (peer: Peer) =>
    sampleBrowser(peer.pid)
      .filter((s) => s.kind === "renderer")
      .map((s) => s.pid);
  for (const session of sessions) {
    await session.send("Performance.enable");
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 200 });
  }
  const metricsBefore = await Promise.all(sessions.map(rendering));
  const threadsBefore = peers.map((peer) => threadCpu(rendererPids(peer)));
  const processesBefore = peers.map((peer) => processCpu(sampleBrowser(peer.pid)));
  for (const session of sessions) await session.send("Profiler.start");
  let timed: Timed;
  if (kind === "sendFile") timed = await sendFileOnce(sender.lib, receiver.lib, receiverId, 120_000);
  else if (isRaw(kind)) timed = await rawOnce(sender.lib, receiver.lib, mib * MiB, kind);
  else timed = await appOnce(pages[0] as Page, pages[1] as Page, path);
  const profiles: Profile[] = [];
  for (const session of sessions) profiles.push((await session.send("Profiler.stop")).profile as Profile);
  const metricsAfter = await Promise.all(sessions.map(rendering));
  const renderingDelta = metricsAfter.map((after, i) =>
    Object.fromEntries(
      Object.entries(after).map(([name, value]) => [name, round(value - (metricsBefore[i]?.[name] ?? 0), 2)]),
    ),
  );
  const threads = peers.map((peer, i) => cpuDelta(threadsBefore[i] ?? new Map(), threadCpu(rendererPids(peer))));
  const processes = peers.map((peer, i) =>
    cpuDelta(processesBefore[i] ?? new Map(), processCpu(sampleBrowser(peer.pid))),
  );
  for (const session of sessions) await session.send("Profiler.disable");
  if (kind === "app") for (const session of sessions) await session.detach();
  const mapOf = async (script: string) =>
    sourceMapper(await fetch(`${base}/${script}.map`).then((response) => response.json()));
  const [library, app] = [await mapOf("mesh.js"), await mapOf("app.js")];
  const describe = (frame: CallFrame) =>
    frame.url.endsWith("/mesh.js") ? library(frame) : frame.url.endsWith("/app.js") ? app(frame) : null;
  const [senderProfile, receiverProfile] = profiles;
  const run: ProfileRun = {
    kind,
    mib,
    mbPerSecond: round((mib * MiB) / 1e6 / (timed.ms / 1000)),
    sender: senderProfile ? selfTimes(senderProfile, describe).slice(0, 15) : [],
    receiver: receiverProfile ? selfTimes(receiverProfile, describe).slice(0, 15) : [],
    senderThreads: record(threads[0] ?? new Map()),
    receiverThreads: record(threads[1] ?? new Map()),
    senderProcesses: record(processes[0] ?? new Map()),
    receiverProcesses: record(processes[1] ?? new Map()),
    senderRendering: renderingDelta[0] ?? {},
    receiverRendering: renderingDelta[1] ?? {},
  };
  process.stderr.write(`files: profiled ${kind} ${mib} MiB: ${run.mbPerSecond} MB/s\n`);
  return run;
}

function profileSummary(runs: ProfileRun[]): string[] {
  const lines: string[] = [];
  for (const run of runs) {
    for (const side of ["sender", "receiver"] as const) {
      const threads = side === "sender" ? run.senderThreads : run.receiverThreads;
      const processes = side === "sender" ? run.senderProcesses : run.receiverProcesses;
      lines.push(
        `#### ${run.kind}, ${run.mib} MiB, ${side} (${run.mbPerSecond} MB/s while profiled)`,
        "",
        "| main thread, self time | ms | % of wall |",
        "| --- | --- | --- |",
        ...run[side]
          .slice(0, 10)
          .map((entry) => `| ${entry.name.replace(/\|/g, "\\|")} | ${entry.ms} | ${entry.percent} |`),
        "",
        `CPU s by renderer thread: ${Object.entries(threads)
          .map(([name, seconds]) => `${name} ${seconds}`)
          .join(", ")}`,
        "",
        `Page counters: ${Object.entries(side === "sender" ? run.senderRendering : run.receiverRendering)
          .map(([name, value]) => `${name} ${value}`)
          .join(", ")}`,
        "",
        `CPU s by process: ${Object.entries(processes)
          .map(([name, seconds]) => `${name} ${seconds}`)
          .join(", ")}`,
        "",
      );
    }
  }
  return lines;
}

export async function measureFiles(
  oursUrl: string,
  options: FilesOptions,
): Promise<{
  runs: FileRun[];
  memory: MemoryRun[];
  profiles: ProfileRun[];
  load: string[];
  /** The library pages' peer states over the whole part (`peer-state` events): a dropped connection shows here. */
  states: Record<string, unknown>;
  summary: string[];
}> {
  const load = [readFileSync("/proc/loadavg", "utf8").trim()];
  const work = mkdtempSync(join(tmpdir(), "rdv-files-"));
  const runs: FileRun[] = [];
  const memory: MemoryRun[] = [];
  const profiles: ProfileRun[] = [];
  const peers: Peer[] = [];
  const states: Record<string, unknown> = {};
  try {
    const path = (mib: number) => join(work, `bench-${mib}.bin`);
    for (const mib of new Set([options.mib, options.smallMib, options.bigMib])) if (mib > 0) writeFile(path(mib), mib);
    for (const [index, side] of ["sender", "receiver"].entries()) {
      const dir = join(work, `${side}-profile`);
      const { context, pid } = await launch(dir, options.pin ? index : null);
      const lib = context.pages()[0] ?? (await context.newPage());
      const cdp = await context.newCDPSession(lib);
      await cdp.send("Performance.enable");
      const app = await context.newPage();
      for (const page of [lib, app]) {
        page.on("crash", () => process.stderr.write(`files: the ${side}'s page crashed\n`));
        page.on("console", (message) => {
          if (message.type() === "error") process.stderr.write(`files: ${side} console: ${message.text()}\n`);
        });
      }
      peers.push({ dir, context, pid, lib, cdp, app });
    }
    const [sender, receiver] = peers;
    if (!sender?.app || !receiver?.app) throw new Error("two peers expected");
    const receiverId = await connectLibraries(sender.lib, receiver.lib, oursUrl);
    const murmur = murmurScript();
    for (const page of [sender.lib, receiver.lib]) await page.evaluate(murmur);
    const appRoom = `files-app-${Date.now()}`;
    await appPage(sender.app, oursUrl, appRoom, "Sender");
    await appPage(receiver.app, oursUrl, appRoom, "Receiver");
    await Promise.all([connectedPeer(sender.app), connectedPeer(receiver.app)]);

    const once = async (kind: Kind, mib: number, pass: number) => {
      if (kind !== "app") await pick(sender.lib, path(mib));
      const cpuBefore = [cpuOf(sender), cpuOf(receiver)];
      const { result, heapMiB } = await peakHeap(receiver.cdp, () => {
        if (kind === "sendFile") return sendFileOnce(sender.lib, receiver.lib, receiverId, 120_000);
        if (isRaw(kind)) return rawOnce(sender.lib, receiver.lib, mib * MiB, kind);
        return appOnce(sender.app as Page, receiver.app as Page, path(mib));
      });
      const run: FileRun = {
        kind,
        mib,
        round: pass + 1,
        ms: round(result.ms),
        mbPerSecond: round((mib * MiB) / 1e6 / (result.ms / 1000)),
        receivedMs: result.receivedMs === null ? null : round(result.receivedMs),
        receiverPeakHeapMiB: heapMiB,
        senderCpuSeconds: round(cpuOf(sender) - (cpuBefore[0] ?? 0), 2),
        receiverCpuSeconds: round(cpuOf(receiver) - (cpuBefore[1] ?? 0), 2),
        load1: load1(),
      };
      process.stderr.write(
        `files: ${kind} ${mib} MiB round ${pass + 1}: ${run.mbPerSecond} MB/s, heap ${heapMiB} MiB, load ${run.load1}\n`,
      );
      runs.push(run);
    };
    // One warm-up transfer of each kind, not recorded: the first transfer in a fresh page is a cold start.
    const kinds: Kind[] = ["sendFile", "raw", "raw-matched", "raw-floor", "raw-store", "app"];
    for (const kind of kinds) await once(kind, options.smallMib, -1);
    runs.length = 0;
    // Interleaved, each kind following each other kind as often as any: a kind that stores a file must not always
    // find the memory a deleted one has just freed (bench/results/2026-12-03-files-ablation, "what a new file costs").
    for (let pass = 0; pass < options.rounds; pass++) {
      for (const kind of balancedOrder(kinds, pass)) await once(kind, options.mib, pass);
      await once("sendFile", options.smallMib, pass);
    }

    if (options.profile) {
      await pick(sender.lib, path(options.mib));
      for (const kind of kinds) {
        profiles.push(await profileOnce(sender, receiver, receiverId, kind, options.mib, oursUrl, path(options.mib)));
      }
    }

    if (options.bigMib > 0) {
      // Only the two library pages from here on: one WebRTC renderer per browser.
      for (const peer of peers) await peer.app?.close();
      // Interleaved: sendFile and the raw loop (which keeps nothing), small and large, the order turning each round.
      const order = [
        ["sendFile", options.mib],
        ["sendFile", options.bigMib],
        ["raw", options.mib],
        ["raw", options.bigMib],
      ] as const;
      // Bounded in time: the part has a budget, and a transfer that runs out of time ends it (the rest would too).
      const deadline = Date.now() + options.memoryBudgetMs;
      const late = () => memory.some((run) => run.timedOut) || deadline - Date.now() < 10_000;
      for (let pass = 0; pass < options.memoryRounds && !late(); pass++) {
        for (let i = 0; i < order.length && !late(); i++) {
          const [kind, mib] = order[(i + pass) % order.length] ?? order[0];
          await pick(sender.lib, path(mib));
          const timeoutMs = Math.min(mib === options.bigMib ? options.bigTimeoutMs : 120_000, deadline - Date.now());
          memory.push(await memoryOnce(sender, receiver, receiverId, kind, mib, pass, timeoutMs));
        }
      }
    }
    for (const [i, peer] of peers.entries())
      states[i === 0 ? "sender" : "receiver"] = await peer.lib.evaluate("window.states");
  } finally {
    for (const peer of peers) await peer.context.close().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    load.push(readFileSync("/proc/loadavg", "utf8").trim());
  }
  return { runs, memory, profiles, load, states, summary: summarize(options, runs, memory, profiles, load) };
}

/** `kind / baseline` throughput within each round: their median, and the lowest and highest. */
function perRound(runs: FileRun[], mib: number, kind: Kind, baseline: Kind): string {
  const rate = (round: number, of: Kind) =>
    runs.find((r) => r.kind === of && r.mib === mib && r.round === round)?.mbPerSecond ?? Number.NaN;
  const ratios = [...new Set(runs.map((r) => r.round))]
    .map((round) => rate(round, kind) / rate(round, baseline))
    .filter(Number.isFinite);
  if (ratios.length === 0) return "n/a";
  return `${ratio(median(ratios), 1)} (${ratio(Math.min(...ratios), 1)}–${ratio(Math.max(...ratios), 1)}, ${ratios.length} rounds)`;
}

function summarize(
  options: FilesOptions,
  runs: FileRun[],
  memory: MemoryRun[],
  profiles: ProfileRun[],
  load: string[],
): string[] {
  const med = (kind: Kind, mib: number, pick: (run: FileRun) => number | null) =>
    median(runs.filter((r) => r.kind === kind && r.mib === mib).map((r) => pick(r) ?? Number.NaN));
  const { mib, smallMib } = options;
  const row = (label: string, kind: Kind, size: number) =>
    `| ${label} | ${med(kind, size, (r) => r.mbPerSecond)} | ${med(kind, size, (r) => r.ms)} | ${med(kind, size, (r) => r.receivedMs) || "–"} | ${med(kind, size, (r) => r.senderCpuSeconds)} / ${med(kind, size, (r) => r.receiverCpuSeconds)} | ${med(kind, size, (r) => r.receiverPeakHeapMiB)} |`;
  const ours = med("sendFile", mib, (r) => r.mbPerSecond);
  const summary = [
    `### File transfer between two Chromiums, picked from disk (${mib} MiB; medians of ${options.rounds} interleaved rounds${options.pin ? "; each browser held to a core of its own" : ""})`,
    "",
    "| transfer | MB/s | ms to done | ms until the receiver has it | CPU s sender / receiver | receiver peak JS heap MiB |",
    "| --- | --- | --- | --- | --- | --- |",
    row(`raw data-channel loop, ${mib} MiB`, "raw", mib),
    row(`raw loop reading and framing as sendFile does, ${mib} MiB`, "raw-matched", mib),
    row(`the same, hashing every byte on both sides and storing it in OPFS (the floor), ${mib} MiB`, "raw-floor", mib),
    row(`the same, storing every byte in OPFS, hashing none, ${mib} MiB`, "raw-store", mib),
    row(`room.sendFile, ${mib} MiB`, "sendFile", mib),
    row(`the room app, ${mib} MiB`, "app", mib),
    row(`room.sendFile, ${smallMib} MiB`, "sendFile", smallMib),
    "",
    `sendFile / raw: ${ratio(
      ours,
      med("raw", mib, (r) => r.mbPerSecond),
    )}; sendFile / raw reading and framing as sendFile does: ${ratio(
      ours,
      med("raw-matched", mib, (r) => r.mbPerSecond),
    )}; the floor / raw (the most sendFile / raw can be): ${ratio(
      med("raw-floor", mib, (r) => r.mbPerSecond),
      med("raw", mib, (r) => r.mbPerSecond),
    )}; storing alone / raw: ${ratio(
      med("raw-store", mib, (r) => r.mbPerSecond),
      med("raw", mib, (r) => r.mbPerSecond),
    )}; sendFile / the floor: ${ratio(
      ours,
      med("raw-floor", mib, (r) => r.mbPerSecond),
    )}; app / sendFile: ${ratio(
      med("app", mib, (r) => r.mbPerSecond),
      ours,
    )}`,
    "",
    `Within each round (the ratio of two transfers a minute apart, so that a machine whose speed drifts over the run moves both), median and range over the rounds: sendFile / raw ${perRound(runs, mib, "sendFile", "raw")}; sendFile / raw reading and framing as sendFile does ${perRound(runs, mib, "sendFile", "raw-matched")}; the floor / raw ${perRound(runs, mib, "raw-floor", "raw")}; storing alone / raw ${perRound(runs, mib, "raw-store", "raw")}; sendFile / the floor ${perRound(runs, mib, "sendFile", "raw-floor")}; app / sendFile ${perRound(runs, mib, "app", "sendFile")}`,
    "",
  ];
  if (memory.length > 0) {
    const big = options.bigMib;
    const mem = (kind: MemoryRun["kind"], size: number, pick: (run: MemoryRun) => number) =>
      median(memory.filter((r) => r.kind === kind && r.mib === size && !r.timedOut).map(pick));
    const memRow = (kind: MemoryRun["kind"], size: number) => {
      const at = (pick: (run: MemoryRun) => number) => mem(kind, size, pick);
      return `| ${kind === "raw" ? "raw loop" : "room.sendFile"}, ${size} MiB | ${at((r) => r.mbPerSecond)} | ${at((r) => r.rendererBaselineMiB)} | ${at((r) => r.rendererMedianMiB)} | ${at((r) => r.rendererPeakMiB)} | ${at((r) => r.rendererGrowthMiB)} (${at((r) => r.senderRendererGrowthMiB)} / ${at((r) => r.receiverRendererGrowthMiB)}) | ${at((r) => r.rendererAnonGrowthMiB)} | ${at((r) => r.totalBaselineMiB)} | ${at((r) => r.totalPeakMiB)} | ${at((r) => r.totalGrowthMiB)} | ${at((r) => r.receiverPeakHeapMiB)} | ${kind === "raw" ? "–" : at((r) => r.receiverStoredMiB ?? Number.NaN)} |`;
    };
    const growth = (kind: MemoryRun["kind"], pick: (run: MemoryRun) => number) =>
      ratio(mem(kind, big, pick), mem(kind, options.mib, pick));
    const timedOut = memory.filter((r) => r.timedOut);
    summary.push(
      `### Memory while a file picked from disk goes through (RSS of both browsers sampled every 250 ms; medians of ${options.memoryRounds} interleaved rounds${timedOut.length > 0 || memory.length < options.memoryRounds * 4 ? `; ${memory.length} of ${options.memoryRounds * 4} transfers ran, within the part's ${options.memoryBudgetMs / 1000} s` : ""})`,
      "",
      "| transfer | MB/s | page renderers before MiB | median during MiB | peak MiB | growth MiB (sender / receiver) | anonymous growth MiB | all processes before MiB | all processes peak MiB | all growth MiB | receiver peak JS heap MiB | receiver's stored MiB |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      memRow("sendFile", options.mib),
      memRow("sendFile", big),
      memRow("raw", options.mib),
      memRow("raw", big),
      ...timedOut.map(
        (r) =>
          `| ${r.kind === "raw" ? "raw loop" : "room.sendFile"}, ${r.mib} MiB, timed out${Number.isNaN(r.sentMiB) ? "" : ` after ${r.sentMiB} MiB`} | – | ${r.rendererBaselineMiB} | ${r.rendererMedianMiB} | ${r.rendererPeakMiB} | ${r.rendererGrowthMiB} (${r.senderRendererGrowthMiB} / ${r.receiverRendererGrowthMiB}) | ${r.rendererAnonGrowthMiB} | ${r.totalBaselineMiB} | ${r.totalPeakMiB} | ${r.totalGrowthMiB} | ${r.receiverPeakHeapMiB} | – |`,
      ),
      "",
      `Growth ${big} MiB / ${options.mib} MiB (a ${round(big / options.mib)}× larger file): sendFile renderers ${growth("sendFile", (r) => r.rendererGrowthMiB)} (their median level ${growth("sendFile", (r) => r.rendererMedianMiB)}), all processes ${growth("sendFile", (r) => r.totalGrowthMiB)}; raw loop renderers ${growth("raw", (r) => r.rendererGrowthMiB)} (median level ${growth("raw", (r) => r.rendererMedianMiB)}), all processes ${growth("raw", (r) => r.totalGrowthMiB)}. sendFile / raw renderer growth at ${big} MiB: ${ratio(
        mem("sendFile", big, (r) => r.rendererGrowthMiB),
        mem("raw", big, (r) => r.rendererGrowthMiB),
      )}`,
      "",
    );
  }
  if (profiles.length > 0)
    summary.push("### Where the CPU goes (one profiled transfer each)", "", ...profileSummary(profiles));
  summary.push(`Load average (/proc/loadavg) before and after: ${load.join(" → ")}`, "");
  return summary;
}
