/**
 * File transfer between two Chromium pages: `room.sendFile` against a raw
 * data-channel loop with the same chunk size (64 KiB) and backpressure
 * (1 MiB / 4 MiB watermarks) in the same pages, interleaved. Also the
 * receiver's peak JS heap during sendFile, at two file sizes, to show that
 * it does not grow with the file.
 */
import type { Browser, CDPSession, Page } from "playwright-core";
import { MiB, median, ratio, round } from "./lib.ts";

interface FileRun {
  kind: "sendFile" | "raw";
  mib: number;
  mbPerSecond: number;
  receiverPeakHeapMiB: number;
}

/** Page script: waits until window.raw has gathered every candidate (the raw baseline does not trickle). */
const GATHERED = `await new Promise((r) => {
      if (window.raw.iceGatheringState === "complete") r();
      else window.raw.onicegatheringstatechange = () => window.raw.iceGatheringState === "complete" && r();
    });`;

/** In both pages: the library, a room, and a raw channel set up by the harness (non-trickle). */
async function setUp(browser: Browser, base: string): Promise<{ sender: Page; receiver: Page; receiverId: string }> {
  const pages = await Promise.all([0, 1].map(async () => (await browser.newContext()).newPage()));
  const [sender, receiver] = pages;
  if (!sender || !receiver) throw new Error("two pages expected");
  const room = `files-${Date.now()}`;
  for (const page of pages) {
    await page.goto(`${base}/`);
    await page.evaluate(`import("/mesh.js").then((m) => {
      window.room = m.joinRoom(${JSON.stringify(room)});
      window.connected = new Promise((resolve) => window.room.addEventListener("peer-connect", resolve));
    })`);
  }
  await Promise.all(pages.map((page) => page.evaluate("window.connected")));
  const receiverId = String(await receiver.evaluate("window.room.id"));
  // The raw baseline's own connection: offer and answer carried by the harness, candidates inside.
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
  await sender.evaluate(`(async () => {
    const open = new Promise((r) => (window.rawChannel.onopen = r));
    await window.raw.setRemoteDescription({ type: "answer", sdp: ${JSON.stringify(answer)} });
    await open;
  })()`);
  await receiver.evaluate("window.rawOpen");
  return { sender, receiver, receiverId };
}

/** Samples the page's used JS heap every 100 ms while `task` runs; resolves with the peak (MiB). */
async function peakHeap(session: CDPSession, task: () => Promise<void>): Promise<number> {
  let peak = 0;
  const sample = async () => {
    const { metrics } = await session.send("Performance.getMetrics");
    const used = metrics.find((metric) => metric.name === "JSHeapUsedSize")?.value ?? 0;
    peak = Math.max(peak, used);
  };
  await sample();
  const timer = setInterval(() => void sample(), 100);
  try {
    await task();
  } finally {
    clearInterval(timer);
  }
  await sample();
  return round(peak / MiB);
}

async function makeFile(page: Page, mib: number): Promise<void> {
  await page.evaluate(`(() => {
    const block = new Uint8Array(1024 * 1024);
    for (let at = 0; at < block.length; at += 65536) crypto.getRandomValues(block.subarray(at, at + 65536));
    const parts = Array.from({ length: ${mib} }, (_, i) => { const copy = block.slice(); copy[0] = i; return copy; });
    window.file = new File(parts, "bench.bin");
  })()`);
}

async function sendFileOnce(sender: Page, receiverId: string): Promise<number> {
  const ms = await sender.evaluate(`(async () => {
    const started = performance.now();
    await window.room.sendFile(window.file, { to: ${JSON.stringify(receiverId)} }).done;
    return performance.now() - started;
  })()`);
  return Number(ms);
}

/** The raw loop: same reads, chunks and watermarks, no protocol; the receiver acknowledges the last byte. */
async function rawOnce(sender: Page, receiver: Page): Promise<number> {
  await receiver.evaluate(`(() => {
    let received = 0;
    window.rawChannel.onmessage = ({ data }) => {
      received += data.byteLength;
      if (received === window.expected) window.rawChannel.send("ok");
    };
  })()`);
  const ms = await sender.evaluate(`(async () => {
    const channel = window.rawChannel;
    channel.bufferedAmountLowThreshold = 1024 * 1024;
    const acknowledged = new Promise((r) => (channel.onmessage = r));
    const started = performance.now();
    for (let offset = 0; offset < window.file.size; offset += 1024 * 1024) {
      const block = new Uint8Array(await window.file.slice(offset, offset + 1024 * 1024).arrayBuffer());
      for (let at = 0; at < block.length; at += 64 * 1024) {
        if (channel.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => channel.addEventListener("bufferedamountlow", r, { once: true }));
        channel.send(block.subarray(at, at + 64 * 1024));
      }
    }
    await acknowledged;
    return performance.now() - started;
  })()`);
  return Number(ms);
}

export async function measureFiles(
  browser: Browser,
  oursUrl: string,
  options: { mib: number; rounds: number },
): Promise<{ runs: FileRun[]; summary: string[] }> {
  const { sender, receiver, receiverId } = await setUp(browser, oursUrl);
  const session = await receiver.context().newCDPSession(receiver);
  await session.send("Performance.enable");
  const runs: FileRun[] = [];
  const small = Math.max(4, options.mib / 4);
  try {
    for (let pass = 0; pass < options.rounds; pass++) {
      for (const mib of [options.mib, small]) {
        await makeFile(sender, mib);
        await receiver.evaluate(`window.expected = ${mib * MiB}`);
        const kinds: FileRun["kind"][] = mib === options.mib ? ["sendFile", "raw"] : ["sendFile"];
        for (const kind of kinds) {
          let ms = 0;
          const heap = await peakHeap(session, async () => {
            ms = kind === "sendFile" ? await sendFileOnce(sender, receiverId) : await rawOnce(sender, receiver);
          });
          const mbPerSecond = round((mib * MiB) / 1e6 / (ms / 1000));
          process.stderr.write(`files: ${kind} ${mib} MiB round ${pass + 1}: ${mbPerSecond} MB/s, heap ${heap} MiB\n`);
          runs.push({ kind, mib, mbPerSecond, receiverPeakHeapMiB: heap });
        }
      }
    }
  } finally {
    await Promise.all([sender.context().close(), receiver.context().close()]);
  }
  const med = (kind: FileRun["kind"], mib: number, key: "mbPerSecond" | "receiverPeakHeapMiB") =>
    median(runs.filter((r) => r.kind === kind && r.mib === mib).map((r) => r[key]));
  const ours = med("sendFile", options.mib, "mbPerSecond");
  const raw = med("raw", options.mib, "mbPerSecond");
  const summary = [
    `### File transfer between two Chromium pages (${options.mib} MiB, 64 KiB chunks; medians of ${options.rounds} interleaved rounds)`,
    "",
    "| transfer | MB/s | receiver peak JS heap MiB |",
    "| --- | --- | --- |",
    `| room.sendFile, ${options.mib} MiB | ${ours} | ${med("sendFile", options.mib, "receiverPeakHeapMiB")} |`,
    `| raw data-channel loop, ${options.mib} MiB | ${raw} | ${med("raw", options.mib, "receiverPeakHeapMiB")} |`,
    `| room.sendFile, ${small} MiB | ${med("sendFile", small, "mbPerSecond")} | ${med("sendFile", small, "receiverPeakHeapMiB")} |`,
    "",
    `sendFile / raw: ${ratio(ours, raw)}`,
    "",
  ];
  return { runs, summary };
}
