/**
 * File transfer over one dedicated, reliable data channel per transfer and
 * receiver (`file:<id>`): a JSON header, binary chunks with backpressure, then
 * `file-end` with a digest of every byte. The receiver answers
 * `file-received` when size and digest match, `file-corrupt` otherwise;
 * either side may send `file-cancel`.
 *
 * The sender reads 1 MiB slices; the receiver folds 1 MiB blocks into 8 MiB
 * Blob segments, so the page's own memory holds under one segment per
 * transfer, while the browser keeps the segments (in memory or on disk, as it
 * chooses) until the whole file is handed out as one Blob. That is why a
 * peer's incoming files are bounded, in number and in declared size. The
 * digest is a hash list, computed by WebCrypto off the main thread: SHA-256
 * over the SHA-256 of each 1 MiB block.
 */
import * as v from "valibot";
import { FileControl, FileHeader } from "../protocol";
import { TypedEventTarget } from "./events";
import { parseJson } from "./json";

export type TransferState = "active" | "done" | "cancelled" | "failed";

const CHUNK = 64 * 1024;
/** Read size on the sender, and the hash list's block size on both sides. */
const BLOCK = 1024 * 1024;
/** Blocks folded into one Blob segment on the receiver (8 MiB). */
const BLOCKS_PER_SEGMENT = 8;
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const PROGRESS_STEP = 1024 * 1024;

/** The events a transfer dispatches, each a CustomEvent with this `detail`. */
export interface TransferEvents {
  progress: { loaded: number; total: number };
  end: { state: Exclude<TransferState, "active"> };
}

/**
 * One transfer, sending or receiving. Dispatches `progress` events
 * ({loaded, total}) and `end` ({state}); `done` settles with the outcome.
 */
export class Transfer extends TypedEventTarget<TransferEvents> {
  state: TransferState = "active";
  loaded = 0;
  readonly done: Promise<void>;
  #settle!: (error?: Error) => void;
  #reported = 0;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly size: number,
    readonly type: string,
    private readonly channels: RTCDataChannel[],
    private readonly sending: boolean,
  ) {
    super();
    this.done = new Promise((resolve, reject) => {
      this.#settle = (error) => (error ? reject(error) : resolve());
    });
    // A rejection nobody awaits is still an outcome, not an unhandled error.
    this.done.catch(() => undefined);
  }

  /** Stops the transfer on every side and frees its channels. */
  cancel(): void {
    if (this.state !== "active") return;
    for (const channel of this.channels) sendControl(channel, { type: "file-cancel" });
    this.finish("cancelled");
  }

  progress(loaded: number): void {
    if (this.state !== "active") return; // an ended transfer moves no more
    this.loaded = loaded;
    if (loaded - this.#reported < PROGRESS_STEP && loaded < this.size) return;
    this.#reported = loaded;
    this.emit("progress", { loaded, total: this.size });
  }

  finish(state: Exclude<TransferState, "active">, reason?: string): void {
    if (this.state !== "active") return;
    this.state = state;
    // The sender closes the channels: a receiver's confirmation must not race their teardown.
    if (state !== "done" || this.sending) for (const channel of this.channels) channel.close();
    this.emit("end", { state });
    if (state === "done") this.#settle();
    else this.#settle(new Error(reason ?? `transfer ${state}`));
  }
}

/** Sends a file to every channel in lockstep: one read and one hash serve all receivers. */
export function sendFile(file: Blob & { name?: string }, channels: RTCDataChannel[]): Transfer {
  const label = channels[0]?.label ?? "";
  const transfer = new Transfer(label.slice(5), file.name ?? "file", file.size, file.type, channels, true);
  void pump(file, transfer, channels).catch((error: Error) => transfer.finish("failed", error.message));
  return transfer;
}

/** How one receiver's side of a transfer ended. */
type Outcome = "received" | "cancelled" | "corrupt" | "closed";

/**
 * Sends to every receiver in lockstep. A receiver that cancels, fails or
 * disconnects drops out; the rest go on. The transfer is done when every
 * receiver that did not cancel has confirmed the file, cancelled when they all
 * cancelled, and failed when any of them got it corrupted or lost the channel.
 */
async function pump(file: Blob, transfer: Transfer, channels: RTCDataChannel[]): Promise<void> {
  const live = new Set(channels);
  const outcomes = channels.map((channel) =>
    listenAsSender(channel).then((outcome) => {
      if (outcome !== "received") live.delete(channel);
      return outcome;
    }),
  );
  await Promise.all(channels.map(opened));
  const header: FileHeader = { type: "file-header", name: transfer.name, size: file.size, mime: file.type };
  for (const channel of live) channel.send(JSON.stringify(header));
  const digests = new HashList();
  for (let offset = 0; offset < file.size && transfer.state === "active" && live.size > 0; ) {
    const block = new Uint8Array(await file.slice(offset, offset + BLOCK).arrayBuffer());
    digests.add(block);
    for (let at = 0; at < block.length && transfer.state === "active"; at += CHUNK) {
      const chunk = block.subarray(at, at + CHUNK);
      for (const channel of live) {
        if (channel.bufferedAmount > HIGH_WATER) await drained(channel);
        if (transfer.state === "active" && channel.readyState === "open") channel.send(chunk);
      }
    }
    offset += block.length;
    transfer.progress(offset);
  }
  if (transfer.state !== "active") return;
  const sha256 = await digests.hex();
  for (const channel of live) sendControl(channel, { type: "file-end", sha256 });
  const results = await Promise.all(outcomes);
  if (results.every((outcome) => outcome === "cancelled")) transfer.finish("cancelled", "the receiver cancelled");
  else if (results.includes("corrupt")) transfer.finish("failed", "the file arrived corrupted");
  else if (results.includes("closed")) transfer.finish("failed", "the connection closed during the transfer");
  else transfer.finish("done");
}

/** Resolves with how this receiver's side ended, whatever happens: nothing waits forever. */
function listenAsSender(channel: RTCDataChannel): Promise<Outcome> {
  return new Promise((resolve) => {
    channel.onmessage = ({ data }) => {
      const control = parseControl(data);
      if (control?.type === "file-received") resolve("received");
      else if (control?.type === "file-corrupt") resolve("corrupt");
      else if (control?.type === "file-cancel") resolve("cancelled");
    };
    channel.onclose = () => resolve("closed");
  });
}

/** Incoming transfers from one peer at once; more are refused. */
const MAX_INCOMING = 8;

/** One peer's incoming files: how many are under way, and the largest size accepted. */
export interface Inbox {
  active: number;
  readonly maxFileSize: number;
}

export interface ReceiveEvents {
  /** The header was accepted: the transfer begins. */
  start(transfer: Transfer): void;
  /** The file arrived intact. */
  complete(transfer: Transfer, blob: Blob): void;
  /** The header was refused (too large, or too many at once): cancelled before any byte was kept. */
  refuse(code: "file-too-large" | "too-many-files", message: string): void;
}

/** Receives a file channel from the peer whose files `inbox` counts. */
export function receiveFile(channel: RTCDataChannel, inbox: Inbox, on: ReceiveEvents): void {
  channel.binaryType = "arraybuffer";
  let transfer: Transfer | null = null;
  const digests = new HashList();
  /** Chunks of the block being filled. */
  let pending: ArrayBuffer[] = [];
  let pendingBytes = 0;
  /** Sealed blocks not yet folded into a segment. */
  let blocks: Uint8Array<ArrayBuffer>[] = [];
  const segments: Blob[] = [];

  channel.onmessage = ({ data }) => {
    if (!transfer) {
      const header = v.safeParse(FileHeader, parseJson(data));
      if (!header.success) return channel.close();
      const { name, size, mime } = header.output;
      if (size > inbox.maxFileSize) {
        return refuse("file-too-large", `a file of ${size} bytes, above maxFileSize`);
      }
      if (inbox.active >= MAX_INCOMING) return refuse("too-many-files", `over ${MAX_INCOMING} files at once`);
      inbox.active += 1;
      transfer = new Transfer(channel.label.slice(5), name, size, mime, [channel], false);
      transfer.addEventListener("end", ({ detail }) => {
        inbox.active -= 1;
        if (detail.state !== "done") release(); // a cancelled or failed download keeps nothing
      });
      return on.start(transfer);
    }
    if (transfer.state !== "active") return;
    if (data instanceof ArrayBuffer) {
      if (transfer.loaded + data.byteLength > transfer.size) return fail(transfer);
      take(data);
      return transfer.progress(transfer.loaded + data.byteLength);
    }
    const control = parseControl(data);
    if (control?.type === "file-cancel") transfer.finish("cancelled", "the sender cancelled");
    else if (control?.type === "file-end") void verify(transfer, control.sha256);
  };
  channel.onclose = () => transfer?.finish("failed", "the connection closed during the transfer");

  /** Cancels before the first byte: whatever is already on its way is dropped unread. */
  function refuse(code: Parameters<ReceiveEvents["refuse"]>[0], message: string): void {
    channel.onmessage = null;
    sendControl(channel, { type: "file-cancel" });
    channel.close();
    on.refuse(code, message);
  }

  /** Cuts the bytes into exact 1 MiB blocks, whatever sizes the chunks come in. */
  function take(data: ArrayBuffer): void {
    for (let at = 0; at < data.byteLength; ) {
      const size = Math.min(BLOCK - pendingBytes, data.byteLength - at);
      pending.push(size === data.byteLength ? data : data.slice(at, at + size));
      pendingBytes += size;
      at += size;
      if (pendingBytes === BLOCK) seal();
    }
  }

  /** One block: its digest joins the hash list, its bytes the file. */
  function seal(): void {
    const block = joined(pending);
    digests.add(block);
    blocks.push(block);
    pending = [];
    pendingBytes = 0;
    if (blocks.length === BLOCKS_PER_SEGMENT) {
      segments.push(new Blob(blocks));
      blocks = [];
    }
  }

  function release(): void {
    segments.length = 0;
    blocks = [];
    pending = [];
  }

  async function verify(active: Transfer, expected: string): Promise<void> {
    if (pendingBytes > 0) seal();
    const intact = active.loaded === active.size && expected === (await digests.hex());
    if (active.state !== "active") return; // cancelled while the digest was computed
    if (!intact) return fail(active);
    sendControl(channel, { type: "file-received" });
    // Never the declared type: a sender must not choose how a browser renders (or runs) what it sent.
    const blob = new Blob([...segments, ...blocks], { type: "application/octet-stream" });
    active.finish("done");
    on.complete(active, blob);
  }

  function fail(active: Transfer): void {
    sendControl(channel, { type: "file-corrupt" });
    active.finish("failed", "the file arrived corrupted");
  }
}

/**
 * SHA-256 over the SHA-256 of each block, in order. Block digests run in
 * WebCrypto as blocks come, so the main thread only copies bytes.
 */
class HashList {
  readonly #digests: Promise<ArrayBuffer>[] = [];

  add(block: Uint8Array<ArrayBuffer>): void {
    this.#digests.push(crypto.subtle.digest("SHA-256", block));
  }

  async hex(): Promise<string> {
    const digests = await Promise.all(this.#digests);
    const list = new Uint8Array(await crypto.subtle.digest("SHA-256", joined(digests)));
    return Array.from(list, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }
}

/** Copies buffers into one. */
function joined(buffers: ArrayBuffer[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(buffers.reduce((total, buffer) => total + buffer.byteLength, 0));
  let at = 0;
  for (const buffer of buffers) {
    bytes.set(new Uint8Array(buffer), at);
    at += buffer.byteLength;
  }
  return bytes;
}

/** Resolves when the channel opens, or closes instead: the sender only waits for it, and finds out which later. */
function opened(channel: RTCDataChannel): Promise<void> {
  return new Promise((resolve) => {
    if (channel.readyState === "open") resolve();
    channel.addEventListener("open", () => resolve());
    channel.addEventListener("close", () => resolve());
  });
}

function drained(channel: RTCDataChannel): Promise<void> {
  channel.bufferedAmountLowThreshold = LOW_WATER;
  return new Promise((resolve) => {
    const done = () => {
      channel.removeEventListener("bufferedamountlow", done);
      channel.removeEventListener("close", done);
      resolve();
    };
    channel.addEventListener("bufferedamountlow", done);
    channel.addEventListener("close", done);
  });
}

function sendControl(channel: RTCDataChannel, control: FileControl): void {
  if (channel.readyState === "open") channel.send(JSON.stringify(control));
}

function parseControl(data: unknown): FileControl | null {
  const result = v.safeParse(FileControl, parseJson(data));
  return result.success ? result.output : null;
}
