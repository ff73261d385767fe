/**
 * File transfer over one dedicated, reliable data channel per transfer and
 * receiver (`file:<id>`): a JSON header, binary chunks with backpressure, then
 * `file-end` with the SHA-256 of every byte. The receiver answers
 * `file-received` when size and digest match, `file-corrupt` otherwise;
 * either side may send `file-cancel`.
 *
 * Neither side ever holds the file at once: the sender reads 1 MiB slices,
 * the receiver folds chunks into 8 MiB Blob segments (which the browser may
 * keep out of the page's memory), and both hash incrementally.
 */
import * as v from "valibot";
import { FileControl, FileHeader } from "../protocol";
import { parseJson } from "./json";
import { Sha256 } from "./sha256";

export type TransferState = "active" | "done" | "cancelled" | "failed";

const CHUNK = 64 * 1024;
const READ_BLOCK = 1024 * 1024;
const SEGMENT = 8 * 1024 * 1024;
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const PROGRESS_STEP = 1024 * 1024;

/**
 * One transfer, sending or receiving. Dispatches `progress` events
 * ({loaded, total}) and `end` ({state}); `done` settles with the outcome.
 */
/** The events a transfer dispatches, each a CustomEvent with this `detail`. */
export interface TransferEvents {
  progress: { loaded: number; total: number };
  end: { state: Exclude<TransferState, "active"> };
}

export class Transfer extends EventTarget {
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

  override addEventListener<K extends keyof TransferEvents>(
    type: K,
    listener: ((event: CustomEvent<TransferEvents[K]>) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | ((event: CustomEvent<never>) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    // Sound: this class only ever dispatches the CustomEvents its event map names.
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
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
    this.dispatchEvent(new CustomEvent("progress", { detail: { loaded, total: this.size } }));
  }

  finish(state: Exclude<TransferState, "active">, reason?: string): void {
    if (this.state !== "active") return;
    this.state = state;
    // The sender closes the channels: a receiver's confirmation must not race their teardown.
    if (state !== "done" || this.sending) for (const channel of this.channels) channel.close();
    this.dispatchEvent(new CustomEvent("end", { detail: { state } }));
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

async function pump(file: Blob, transfer: Transfer, channels: RTCDataChannel[]): Promise<void> {
  const confirmations = channels.map((channel) => listenAsSender(channel, transfer));
  await Promise.all(channels.map(opened));
  const header: FileHeader = { type: "file-header", name: transfer.name, size: file.size, mime: file.type };
  for (const channel of channels) channel.send(JSON.stringify(header));
  const hash = new Sha256();
  for (let offset = 0; offset < file.size && transfer.state === "active"; ) {
    const block = new Uint8Array(await file.slice(offset, offset + READ_BLOCK).arrayBuffer());
    hash.update(block);
    for (let at = 0; at < block.length && transfer.state === "active"; at += CHUNK) {
      const chunk = block.subarray(at, at + CHUNK);
      for (const channel of channels) {
        if (channel.bufferedAmount > HIGH_WATER) await drained(channel);
        if (transfer.state === "active") channel.send(chunk);
      }
    }
    offset += block.length;
    transfer.progress(offset);
  }
  if (transfer.state !== "active") return;
  const sha256 = hash.hex();
  for (const channel of channels) sendControl(channel, { type: "file-end", sha256 });
  await Promise.all(confirmations);
  transfer.finish("done");
}

/** Resolves when the receiver confirms; fails the transfer on corruption, cancel or a lost channel. */
function listenAsSender(channel: RTCDataChannel, transfer: Transfer): Promise<void> {
  return new Promise((resolve) => {
    channel.onmessage = ({ data }) => {
      const control = parseControl(data);
      if (control?.type === "file-received") resolve();
      else if (control?.type === "file-corrupt") transfer.finish("failed", "the file arrived corrupted");
      else if (control?.type === "file-cancel") transfer.finish("cancelled", "the receiver cancelled");
    };
    channel.onclose = () => transfer.finish("failed", "the connection closed during the transfer");
  });
}

/**
 * Receives a file channel: `start` is called with the transfer once the header
 * arrives, `complete` with the verified file.
 */
export function receiveFile(
  channel: RTCDataChannel,
  start: (transfer: Transfer) => void,
  complete: (transfer: Transfer, blob: Blob) => void,
): void {
  channel.binaryType = "arraybuffer";
  let transfer: Transfer | null = null;
  const hash = new Sha256();
  const segments: Blob[] = [];
  let parts: ArrayBuffer[] = [];
  let partBytes = 0;

  channel.onmessage = ({ data }) => {
    if (!transfer) {
      const header = v.safeParse(FileHeader, parseJson(data));
      if (!header.success) return channel.close();
      const { name, size, mime } = header.output;
      transfer = new Transfer(channel.label.slice(5), name, size, mime, [channel], false);
      return start(transfer);
    }
    if (transfer.state !== "active") return;
    if (data instanceof ArrayBuffer) {
      hash.update(new Uint8Array(data));
      parts.push(data);
      partBytes += data.byteLength;
      if (partBytes >= SEGMENT) {
        segments.push(new Blob(parts));
        parts = [];
        partBytes = 0;
      }
      if (transfer.loaded + data.byteLength > transfer.size) return fail(transfer);
      return transfer.progress(transfer.loaded + data.byteLength);
    }
    const control = parseControl(data);
    if (control?.type === "file-cancel") transfer.finish("cancelled", "the sender cancelled");
    else if (control?.type === "file-end") {
      if (transfer.loaded !== transfer.size || control.sha256 !== hash.hex()) return fail(transfer);
      sendControl(channel, { type: "file-received" });
      const blob = new Blob([...segments, ...parts], { type: transfer.type });
      transfer.finish("done");
      complete(transfer, blob);
    }
  };
  channel.onclose = () => transfer?.finish("failed", "the connection closed during the transfer");

  function fail(active: Transfer): void {
    sendControl(channel, { type: "file-corrupt" });
    active.finish("failed", "the file arrived corrupted");
  }
}

function opened(channel: RTCDataChannel): Promise<void> {
  if (channel.readyState === "open") return Promise.resolve();
  return new Promise((resolve, reject) => {
    channel.addEventListener("open", () => resolve(), { once: true });
    channel.addEventListener("close", () => reject(new Error("the file channel closed before opening")), {
      once: true,
    });
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
