/**
 * File transfer over one dedicated, reliable data channel per transfer and
 * receiver (`file:<id>`): a JSON header, binary chunks with backpressure, then
 * `file-end` with a digest of every byte. The receiver answers
 * `file-received` when size and digest match (and the file is stored),
 * `file-corrupt` otherwise; either side may send `file-cancel`.
 *
 * The sender reads 1 MiB slices. The receiver cuts the bytes into 1 MiB
 * blocks and appends each to a file of its own in the Origin Private File
 * System (`rendezvous-incoming/`), so the page holds the block being filled
 * and the one being written, whatever the file's size; the verified file is
 * handed out from disk. Where OPFS is missing, refused (private browsing) or
 * short of room for the file, the receiver folds the blocks into 8 MiB Blob
 * segments instead, which the browser keeps (in memory or on disk, as it
 * chooses). Either way a peer's incoming files are bounded, in number and in
 * declared size. A received file stays stored until `release()`, or until its
 * page is gone: the next page of the origin to join a room deletes it. The
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
/** Blocks folded into one Blob segment on a receiver without OPFS (8 MiB). */
const BLOCKS_PER_SEGMENT = 8;
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const PROGRESS_STEP = 1024 * 1024;
/** What every received file is handed out as, whatever its sender declared. */
const OCTET = "application/octet-stream";
/** The OPFS directory of received files, and the prefix of the Web Locks that tell whose they are. */
const INCOMING = "rendezvous-incoming";
const ignore = () => undefined;

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
    private readonly store: Store | null = null,
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

  /**
   * Deletes a received file's stored copy, which the `file` event's `blob`
   * reads from: call it once the blob is saved or dismissed; the blob cannot
   * be read after. A transfer still under way is cancelled.
   */
  release(): void {
    this.cancel();
    this.store?.discard();
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
  let store: Store | null = null;
  const digests = new HashList();
  /** Chunks of the block being filled. */
  let pending: ArrayBuffer[] = [];
  let pendingBytes = 0;

  channel.onmessage = ({ data }) => {
    if (!transfer || !store) {
      const header = v.safeParse(FileHeader, parseJson(data));
      if (!header.success) return channel.close();
      const { name, size, mime } = header.output;
      if (size > inbox.maxFileSize) {
        return refuse("file-too-large", `a file of ${size} bytes, above maxFileSize`);
      }
      if (inbox.active >= MAX_INCOMING) return refuse("too-many-files", `over ${MAX_INCOMING} files at once`);
      inbox.active += 1;
      const stored = new Store(size, (error) => {
        if (active.state !== "active") return;
        // The protocol's one word for a receiver that gives up: the sender drops it and goes on with the others.
        sendControl(channel, { type: "file-cancel" });
        active.finish("failed", `the file could not be stored (${String(error)})`);
      });
      const active = new Transfer(channel.label.slice(5), name, size, mime, [channel], false, stored);
      active.addEventListener("end", ({ detail }) => {
        inbox.active -= 1;
        // A cancelled or failed download keeps nothing.
        if (detail.state !== "done") {
          stored.discard();
          pending = [];
        }
      });
      transfer = active;
      store = stored;
      return on.start(active);
    }
    if (transfer.state !== "active") return;
    if (data instanceof ArrayBuffer) {
      if (transfer.loaded + data.byteLength > transfer.size) return fail(transfer);
      take(data, store);
      return transfer.progress(transfer.loaded + data.byteLength);
    }
    const control = parseControl(data);
    if (control?.type === "file-cancel") transfer.finish("cancelled", "the sender cancelled");
    else if (control?.type === "file-end") void verify(transfer, store, control.sha256);
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
  function take(data: ArrayBuffer, to: Store): void {
    for (let at = 0; at < data.byteLength; ) {
      const size = Math.min(BLOCK - pendingBytes, data.byteLength - at);
      pending.push(size === data.byteLength ? data : data.slice(at, at + size));
      pendingBytes += size;
      at += size;
      if (pendingBytes === BLOCK) seal(to);
    }
  }

  /** One block: its digest joins the hash list, its bytes the stored file. */
  function seal(to: Store): void {
    const block = joined(pending);
    digests.add(block);
    to.add(block);
    pending = [];
    pendingBytes = 0;
  }

  async function verify(active: Transfer, to: Store, expected: string): Promise<void> {
    if (pendingBytes > 0) seal(to);
    const intact = active.loaded === active.size && expected === (await digests.hex());
    if (active.state !== "active") return; // cancelled while the digest was computed
    if (!intact) return fail(active);
    // The sender hears "received" only once the file is stored; a store that fails ends the transfer itself.
    const blob = await to.finish().catch(ignore);
    if (!blob || active.state !== "active") return;
    sendControl(channel, { type: "file-received" });
    active.finish("done");
    on.complete(active, blob);
  }

  function fail(active: Transfer): void {
    sendControl(channel, { type: "file-corrupt" });
    active.finish("failed", "the file arrived corrupted");
  }
}

/** A received file in OPFS: where it is, and the stream that appends to it. */
interface Disk {
  dir: FileSystemDirectoryHandle;
  name: string;
  handle: FileSystemFileHandle;
  out: FileSystemWritableFileStream;
}

/**
 * Where a received file's blocks go, in order: a file in OPFS, or Blob
 * segments where OPFS is not to be had. Each step waits for the one before
 * in `#queue`, so a block waits there only while the disk is behind the
 * network; normally one is being written and none waits.
 */
class Store {
  #disk: Disk | null = null;
  /** Without a disk: the segments, and the blocks not yet folded into one. */
  #segments: Blob[] = [];
  #blocks: Uint8Array<ArrayBuffer>[] = [];
  #queue: Promise<unknown>;
  /** Discarded, or lost: later blocks go nowhere. */
  #over = false;

  constructor(
    size: number,
    private readonly lost: (error: unknown) => void,
  ) {
    // Missing, refused (private browsing) or short of room: Blob segments from the first byte, for the whole transfer.
    this.#queue = openDisk(size).then((disk) => {
      this.#disk = disk;
    }, ignore);
  }

  add(block: Uint8Array<ArrayBuffer>): void {
    void this.#then(async () => {
      if (this.#over) return;
      if (this.#disk) return this.#disk.out.write(block);
      this.#blocks.push(block);
      if (this.#blocks.length < BLOCKS_PER_SEGMENT) return;
      this.#segments.push(new Blob(this.#blocks));
      this.#blocks = [];
    }).catch(ignore);
  }

  /**
   * The whole file, once every block is stored. From OPFS it is the stored
   * File, retyped: a File's type comes from its name, and a Blob made of a
   * File refers to the file on disk, it does not copy it.
   */
  finish(): Promise<Blob> {
    return this.#then(async () => {
      if (!this.#disk) return new Blob([...this.#segments, ...this.#blocks], { type: OCTET });
      await this.#disk.out.close();
      return new Blob([await this.#disk.handle.getFile()], { type: OCTET });
    });
  }

  /** Deletes whatever is stored, once the steps under way are done; a stream still open is dropped unwritten. */
  discard(): void {
    this.#over = true;
    this.#segments = [];
    this.#blocks = [];
    void this.#then(async () => {
      const disk = this.#disk;
      this.#disk = null;
      if (!disk) return;
      await disk.out.abort().catch(ignore); // a finished file's stream is closed already
      await disk.dir.removeEntry(disk.name).catch(ignore);
    });
  }

  /**
   * Runs a step after the others. A step that fails loses the file: the
   * blocks written so far reach the file only when its stream closes (writes
   * go to a swap file), so there is nothing to fall back on midway.
   */
  #then<T>(step: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(step);
    this.#queue = result.catch((error: unknown) => {
      if (this.#over) return;
      this.#over = true;
      this.lost(error);
    });
    return result;
  }
}

/** Files this page has stored, for their names. */
let storedFiles = 0;

/**
 * A new file in this page's part of `rendezvous-incoming`, open for
 * appending. Fails where OPFS or Web Locks are missing or refused, and where
 * the origin's quota has no room for `size` bytes: a disk that fills up
 * midway loses the transfer, Blob segments do not.
 */
async function openDisk(size: number): Promise<Disk> {
  const { dir, page } = await incoming();
  const { quota = 0, usage = 0 } = await navigator.storage.estimate();
  if (quota - usage < size) throw new RangeError("no room for the file");
  const name = `${page}.${++storedFiles}`;
  const handle = await dir.getFileHandle(name, { create: true });
  try {
    return { dir, name, handle, out: await handle.createWritable() };
  } catch (error) {
    await dir.removeEntry(name).catch(ignore);
    throw error;
  }
}

let storage: Promise<{ dir: FileSystemDirectoryHandle; page: string }> | undefined;

/**
 * The directory, and this page's name in it: its files' names start with
 * it, and the page holds a Web Lock of that name for as long as it lives, so
 * that any page can tell a live page's files (another tab receiving right
 * now, or offering a download) from those a closed or crashed page left.
 * Settles once per page: where it fails, every transfer takes Blob segments.
 */
function incoming(): Promise<{ dir: FileSystemDirectoryHandle; page: string }> {
  storage ??= (async () => {
    const root = await navigator.storage.getDirectory();
    const page = crypto.randomUUID();
    await new Promise<void>((granted, refused) => {
      navigator.locks
        .request(`${INCOMING}/${page}`, () => {
          granted();
          return new Promise(ignore); // held until the page goes
        })
        .catch(refused);
    });
    return { dir: await root.getDirectoryHandle(INCOMING, { create: true }), page };
  })();
  return storage;
}

/**
 * Called when a page joins a room: opens this page's part of the directory
 * now, so that a first transfer's blocks do not wait for it, and deletes the
 * received files of pages that are gone (closed or crashed): a page that
 * lives holds its lock (see `incoming`). A file's age says nothing: one being
 * written keeps its creation time (the writes go to a swap file), and an open
 * tab may offer a download for days.
 */
export async function sweep(): Promise<void> {
  incoming().catch(ignore);
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(INCOMING);
  const names: string[] = [];
  for await (const name of dir.keys()) names.push(name);
  // Listed before the locks are read: a page holds its lock before it creates its first file.
  const live = new Set((await navigator.locks.query()).held?.map((lock) => lock.name));
  for (const name of names) {
    if (!live.has(`${INCOMING}/${name.split(".")[0]}`)) await dir.removeEntry(name).catch(ignore);
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
