/**
 * File transfer over one dedicated, reliable data channel per transfer and
 * receiver (`file:<id>`): a JSON header, binary frames, then `file-end` with
 * a digest of every byte. The receiver answers `file-received` when size and
 * digest match, `file-corrupt` otherwise; either side may send `file-cancel`.
 *
 * Memory is flat on both sides, whatever the file's size. The sender reads
 * 1 MiB blocks, and sends a block only while the receiver has stored all but
 * `WINDOW` of those before it: the receiver says `file-ack` with its count of
 * stored blocks as each one reaches disk. A data channel has no receive-side
 * backpressure, so these acks are what keep a receiver whose disk lags the
 * network from holding the difference. The receiver appends each block to a
 * file of its own in the Origin Private File System (disk.ts) and hands out
 * the verified file from there; where OPFS is missing, refused (private
 * browsing) or short of room, it keeps Blob segments instead, which the
 * browser holds (in memory or on disk, as it chooses).
 *
 * A transfer outlives its channel: if the channel closes midway (the peer
 * connection failed and came back, or the channel alone was lost), the
 * sender opens a new one with the same label once the peer is connected
 * again and says `file-resume`; the receiver answers with its count of
 * stored blocks, and the sender goes on from there. A side that waits too
 * long for that ends the transfer failed.
 *
 * The digest is a hash list, SHA-256 over the checks of the 1 MiB blocks,
 * each block checked as it passes: nothing is read twice, and the end waits
 * for no more than one list of digests. A block's check is its
 * MurmurHash3_x86_128 (murmur.ts) where the sender offered it and the
 * receiver took it up, and its SHA-256 otherwise (a page from before it).
 */
import * as v from "valibot";
import { FileControl, type FileHeader, FileOpening } from "../protocol";
import { type Disk, openDisk } from "./disk";
import { TypedEventTarget } from "./events";
import { parseJson } from "./json";
import { murmur3 } from "./murmur";

export type TransferState = "active" | "done" | "cancelled" | "failed";

/** How a transfer's blocks are checked: "murmur3" once both sides said so, "sha256" with a page from before it. */
type Check = "sha256" | "murmur3";
/** Both checks, for blocks read before a receiver says which it takes. */
const BOTH: readonly Check[] = ["murmur3", "sha256"];
/** The check a header offers or an ack takes up, by its name on the wire: a name this page does not know is SHA-256. */
const checkNamed = (name: string | undefined): Check => (name === "murmur3" ? "murmur3" : "sha256");

/**
 * The largest binary frame a sender sends, where the connection takes it
 * (Chromium's limit): a quarter as many frames as at 64 KiB cost both pages
 * less per byte (bench/results/2026-12-02-files-ablation).
 */
const MAX_FRAME = 256 * 1024;
/** A connection that does not say how large a message it takes takes this (RFC 8841). */
const DEFAULT_FRAME = 64 * 1024;
/** Read size on the sender, the hash list's block size, and the unit of acks and resumes. */
const BLOCK = 1024 * 1024;
/** Blocks a sender may have sent beyond those the receiver stored: all a receiver ever holds of a file (4 MiB). */
export const WINDOW = 4;
/** Blocks folded into one Blob segment on a receiver without OPFS (8 MiB). */
const BLOCKS_PER_SEGMENT = 8;
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const PROGRESS_STEP = 1024 * 1024;
/**
 * How long a sender waits for a receiver's first word once it has to. Silence on the first channel gets the header
 * again on a new one (see `deliver`); silence there means a page from before acks: sent to unpaced, no resume.
 */
export const FIRST_ACK_MS = 10_000;
/** How long a sender waits for a lost receiver's connection to come back (a link's own give-up time). */
export const RESUME_MS = 30_000;
/** How long a receiver keeps a transfer whose channel closed, waiting for `file-resume`: longer than the sender. */
const SUSPEND_MS = 60_000;
const CLOSED = "the connection closed during the transfer";
/** What every received file is handed out as, whatever its sender declared. */
const OCTET = "application/octet-stream";
const ignore = () => undefined;

/** The events a transfer dispatches, each a CustomEvent with this `detail`. */
export interface TransferEvents {
  progress: { loaded: number; total: number };
  end: { state: Exclude<TransferState, "active"> };
}

/** What a transfer's owner does when the person cancels or releases it. */
interface Side {
  /** Tells the other side(s), where a channel is open. */
  cancel(): void;
  /** Deletes a received file's stored copy. */
  release(): void;
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
    private readonly side: Side,
  ) {
    super();
    this.done = new Promise((resolve, reject) => {
      this.#settle = (error) => (error ? reject(error) : resolve());
    });
    // A rejection nobody awaits is still an outcome, not an unhandled error.
    this.done.catch(ignore);
  }

  /** Stops the transfer on every side and frees its channels. */
  cancel(): void {
    if (this.state !== "active") return;
    this.side.cancel();
    this.finish("cancelled");
  }

  /**
   * Deletes a received file's stored copy, which the `file` event's `blob`
   * reads from: call it once the blob is saved or dismissed; the blob cannot
   * be read after. A transfer still under way is cancelled.
   */
  release(): void {
    this.cancel();
    this.side.release();
  }

  progress(loaded: number): void {
    if (this.state !== "active") return; // an ended transfer moves no more
    this.loaded = loaded;
    if (Math.abs(loaded - this.#reported) < PROGRESS_STEP && loaded < this.size) return;
    this.#reported = loaded;
    this.emit("progress", { loaded, total: this.size });
  }

  finish(state: Exclude<TransferState, "active">, reason?: string): void {
    if (this.state !== "active") return;
    this.state = state;
    this.emit("end", { state });
    if (state === "done") this.#settle();
    else this.#settle(new Error(reason ?? `transfer ${state}`));
  }
}

/** One receiver of a file: its channel now, and how to get a new one if that closes. */
export interface Route {
  channel: RTCDataChannel;
  /** The largest message its connection takes now (`RTCSctpTransport.maxMessageSize`), if it says. */
  maxMessageSize(): number | undefined;
  /** A new channel with the same label, once the peer is connected again; null if it does not come back. */
  reopen(): Promise<RTCDataChannel | null>;
}

/** How one receiver's side of a transfer ended ("unreadable": our own file could not be read). */
type Outcome = "received" | "cancelled" | "corrupt" | "closed" | "unreadable";
/** How one channel's part ended: as a transfer can, or with the receiver silent (see `deliver`). */
type WireOutcome = Outcome | "silent";

/**
 * Sends a file to every receiver at once, each at its own pace: a receiver
 * that cancels, fails or disconnects for good drops out and the rest go on.
 * The transfer is done when every receiver that did not cancel has confirmed
 * the file, cancelled when they all cancelled, and failed when any of them
 * got it corrupted or was lost.
 */
export function sendFile(file: Blob & { name?: string }, id: string, routes: Route[]): Transfer {
  const wires = new Set<SenderWire>();
  const transfer = new Transfer(id, file.name ?? "file", file.size, file.type, {
    cancel: () => {
      for (const wire of wires) wire.say({ type: "file-cancel" });
    },
    release: ignore,
  });
  transfer.addEventListener("end", () => {
    for (const wire of wires) wire.channel.close();
  });
  const digests = new HashList();
  const positions = routes.map(() => 0);
  const moved = (index: number, offset: number) => {
    positions[index] = offset;
    transfer.progress(Math.min(...positions));
  };
  const deliveries = routes.map((route, index) =>
    deliver(file, transfer, digests, route, wires, (offset) => moved(index, offset)).then((outcome) => {
      positions[index] = file.size; // a receiver that dropped out holds nobody's progress back
      return outcome;
    }),
  );
  void Promise.all(deliveries).then((results) => {
    if (results.every((outcome) => outcome === "cancelled")) transfer.finish("cancelled", "the receiver cancelled");
    else if (results.includes("unreadable")) transfer.finish("failed", "the file could not be read");
    else if (results.includes("corrupt")) transfer.finish("failed", "the file arrived corrupted");
    else if (results.includes("closed")) transfer.finish("failed", CLOSED);
    else transfer.finish("done");
  });
  return transfer;
}

/**
 * Sends the file to one receiver: the header, the blocks from wherever the
 * receiver is, then the digest; over a new channel after a resume.
 */
async function deliver(
  file: Blob,
  transfer: Transfer,
  digests: HashList,
  route: Route,
  wires: Set<SenderWire>,
  moved: (offset: number) => void,
): Promise<Outcome> {
  const header: FileHeader = {
    type: "file-header",
    name: transfer.name,
    size: file.size,
    mime: file.type,
    acks: true,
    check: "murmur3",
  };
  let wire = await begin(route.channel, header, wires, { silenceEnds: true });
  if (!wire) return "closed";
  let from = 0;
  /** Blocks this receiver has been sent: the most a resume may claim to have stored. */
  let sent = 0;
  for (;;) {
    let outcome: WireOutcome;
    try {
      outcome = await stream(file, transfer, digests, wire, frameSize(route.maxMessageSize()), from, (offset) => {
        sent = Math.max(sent, Math.ceil(offset / BLOCK));
        moved(offset);
      });
    } catch {
      // The file could not be read (changed or deleted meanwhile): no resume can help.
      wire.say({ type: "file-cancel" });
      wire.channel.close();
      return "unreadable";
    }
    if (outcome === "silent") {
      // Nothing back after the header, where a receiver answers at once: it may never have heard of the channel
      // (Firefox can lose a channel's opening on a stream id closed a moment before). The header again, on a new
      // channel; a receiver from before acks is silent on that one too, and is then sent to unpaced. The new channel
      // is asked for while the old one is still closing, and a browser frees a stream id only once its channel closed.
      wires.delete(wire);
      wire.channel.close();
      const channel = await route.reopen();
      wire = channel && transfer.state === "active" ? await begin(channel, header, wires, {}) : null;
      if (!wire) {
        channel?.close();
        return "closed";
      }
      from = sent = 0;
      continue;
    }
    if (outcome !== "closed" || transfer.state !== "active" || !wire.paced) return outcome;
    // The channel closed midway, and the receiver can resume.
    wires.delete(wire);
    const resumed = await resume(route, transfer, wires, wire.check);
    if (typeof resumed === "string") return resumed;
    wire = resumed.wire;
    if (resumed.stored > sent) {
      wire.say({ type: "file-cancel" });
      return "corrupt"; // it claims blocks it was never sent
    }
    from = resumed.stored * BLOCK;
  }
}

/**
 * A channel's opening for a file: the header, once the channel is open. Waited for as long as a resume is: a
 * channel still not open by then (its connection never came back, or the browser lost its opening) would leave
 * the transfer active for ever, and the receiver never knew of it. Null, the channel closed, if it did not open.
 */
async function begin(
  channel: RTCDataChannel,
  header: FileHeader,
  wires: Set<SenderWire>,
  options: { silenceEnds?: boolean },
): Promise<SenderWire | null> {
  const wire = new SenderWire(channel, options);
  wires.add(wire);
  await within(wire.opened, RESUME_MS);
  if (channel.readyState !== "open") {
    wires.delete(wire);
    channel.close();
    return null;
  }
  wire.say(header);
  return wire;
}

/** The frame size to send in: the largest power of two the connection takes, at most `MAX_FRAME`. */
function frameSize(maxMessageSize: number | undefined): number {
  if (!maxMessageSize) return DEFAULT_FRAME; // 0 or unknown: nothing said
  return Math.min(MAX_FRAME, 2 ** Math.floor(Math.log2(maxMessageSize)));
}

/** New channels one resume may try, within `RESUME_MS`, while the connection flaps. */
const RESUME_ATTEMPTS = 3;

/**
 * A new channel to a receiver whose channel closed, once the peer is back,
 * and its count of stored blocks; or how that receiver's side ended: it had
 * the file already ("received"), or no longer has the transfer, or did not
 * come back in time ("closed").
 */
async function resume(
  route: Route,
  transfer: Transfer,
  wires: Set<SenderWire>,
  check: Check | undefined,
): Promise<{ wire: SenderWire; stored: number } | Outcome> {
  const deadline = Date.now() + RESUME_MS;
  for (let attempt = 0; attempt < RESUME_ATTEMPTS && Date.now() < deadline; attempt++) {
    const channel = await route.reopen();
    if (!channel) return "closed";
    if (transfer.state !== "active") {
      channel.close(); // cancelled while we waited: the receiver's side times out
      return "closed";
    }
    const wire = new SenderWire(channel, { check });
    wires.add(wire);
    const answer = wire.opened.then(() => {
      wire.say({ type: "file-resume" });
      return wire.resumed;
    });
    const stored = await within(answer, deadline - Date.now());
    if (typeof stored === "number") return { wire, stored };
    wires.delete(wire);
    wire.channel.close();
    // Verified before the channel closed, its word came on this one; a refusal means it gave the transfer up.
    if (wire.outcome === "received") return "received";
    if (wire.ended && wire.outcome !== "closed") return "closed";
  }
  return "closed";
}

/** The promise's value, or null once `ms` have passed. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), Math.max(0, ms));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Sends blocks from `from` on, then the digest, and waits for the receiver's
 * word on it. The next block is read and hashed while the receiver catches up.
 */
async function stream(
  file: Blob,
  transfer: Transfer,
  digests: HashList,
  wire: SenderWire,
  frame: number,
  from: number,
  moved: (offset: number) => void,
): Promise<WireOutcome> {
  const blocks = new BlockReader(file, from);
  try {
    for (let offset = from; offset < file.size; offset += BLOCK) {
      const index = offset / BLOCK;
      const block = await blocks.next();
      // Checked while the receiver catches up, not once it has: the block's buffer is filled again after.
      digests.add(index, block, wire.check ? [wire.check] : BOTH);
      if (!(await wire.window(index)) || transfer.state !== "active") return wire.outcome;
      // `send` copies too: the block's buffer is free to fill again once the frames are sent.
      for (let at = 0; at < block.length; at += frame) {
        if (wire.channel.bufferedAmount > HIGH_WATER) await drained(wire.channel);
        if (transfer.state !== "active" || wire.ended) return wire.outcome;
        wire.channel.send(block.subarray(at, at + frame));
      }
      moved(offset + block.length);
    }
    await blocks.unchanged();
  } finally {
    blocks.close();
  }
  moved(file.size);
  // A file of a few blocks can be sent before the receiver's first word, which says how it checks them.
  if (!(await wire.decided()) || transfer.state !== "active") return wire.outcome;
  const sha256 = await digests.hex(Math.ceil(file.size / BLOCK), wire.check ?? "sha256");
  wire.say({ type: "file-end", sha256 });
  if (wire.paced) return wire.settled; // a paced receiver that goes quiet closes its channel, or resumes
  // A page from before acks checks each block as it comes: its verdict follows the last byte within seconds. A
  // channel that nobody reads (its opening lost twice over) would otherwise leave the transfer active for ever.
  const verdict = await within(wire.settled, RESUME_MS);
  if (verdict) return verdict;
  wire.channel.close();
  return "closed";
}

/** Bytes read through one stream: each new stream checks the file anew. */
const SEGMENT = 16 * BLOCK;

/**
 * A file's blocks in order, read through streams into one buffer that each
 * block fills again: a slice and an `arrayBuffer()` per block cost 2.5× the
 * CPU (a blob registered with the browser process for each, and fresh
 * memory). Chromium fails a read of a file changed since it was picked, but
 * looks only when a read begins: a new stream every `SEGMENT`, and a last
 * look once all is read, fail a file changed during the transfer instead of
 * sending a mix of its versions.
 */
class BlockReader {
  readonly #block = new Uint8Array(BLOCK);
  #reader: ReadableStreamDefaultReader<Uint8Array<ArrayBuffer>> | null = null;
  /** Where the current stream is, and where it ends. */
  #at: number;
  #end: number;
  /** What the last chunk held past the block it went into. */
  #rest: Uint8Array<ArrayBuffer> | null = null;

  constructor(
    private readonly file: Blob,
    from: number,
  ) {
    this.#at = this.#end = from;
  }

  /** The next block: `BLOCK` bytes, fewer only at the end. The buffer is the next call's to fill. */
  async next(): Promise<Uint8Array<ArrayBuffer>> {
    const size = Math.min(BLOCK, this.file.size - this.#at + (this.#rest?.length ?? 0));
    for (let filled = 0; filled < size; ) {
      const chunk = this.#rest ?? (await this.#read());
      const taken = Math.min(chunk.length, size - filled);
      this.#block.set(chunk.subarray(0, taken), filled);
      this.#rest = taken < chunk.length ? chunk.subarray(taken) : null;
      filled += taken;
    }
    return this.#block.subarray(0, size);
  }

  /** Rejects if the file changed since it was picked (where the browser can tell). */
  async unchanged(): Promise<void> {
    if (this.file.size > 0) await this.file.slice(this.file.size - 1).arrayBuffer();
  }

  close(): void {
    this.#reader?.cancel().catch(ignore);
    this.#reader = null;
  }

  /** The current stream's next chunk; a new stream for the next segment where one ends. */
  async #read(): Promise<Uint8Array<ArrayBuffer>> {
    for (;;) {
      if (!this.#reader) {
        this.#end = Math.min(this.file.size, this.#at + SEGMENT);
        this.#reader = this.file.slice(this.#at, this.#end).stream().getReader();
      }
      const { done, value } = await this.#reader.read();
      if (!done) {
        this.#at += value.length;
        return value;
      }
      if (this.#at < this.#end) throw new DOMException("the file got shorter", "NotReadableError");
      this.#reader = null;
    }
  }
}

/** What a sender hears on one channel: acks, the receiver's verdict, or the channel closing. */
class SenderWire {
  readonly opened: Promise<void>;
  /** The verdict, once there is one ("closed" until then). */
  outcome: WireOutcome = "closed";
  ended = false;
  /** Whether the receiver sends acks: unknown until it first speaks. */
  paced: boolean | undefined;
  /** The receiver's count of stored blocks; on a resumed channel, where to go on from. */
  #acked = 0;
  #wake: () => void = ignore;
  #spoke: () => void = ignore;
  readonly #spoken: Promise<void>;
  readonly settled: Promise<WireOutcome>;
  #settle: (outcome: WireOutcome) => void = ignore;
  readonly resumed: Promise<number | null>;
  #resume: (blocks: number | null) => void = ignore;

  /**
   * How the receiver checks blocks, once known: told by its first ack. Unknown until then, even once the sender
   * stops waiting for that ack: a late one still says it, and blocks are checked both ways meanwhile.
   */
  check: Check | undefined;
  /** The receiver's silence after the header ends this channel's part ("silent") instead of leaving it unpaced. */
  readonly #silenceEnds: boolean;

  /** `check` is given for a resumed channel, whose first ack does not say it again. */
  constructor(
    readonly channel: RTCDataChannel,
    { check, silenceEnds = false }: { check?: Check | undefined; silenceEnds?: boolean } = {},
  ) {
    this.check = check;
    this.#silenceEnds = silenceEnds;
    this.opened = opened(channel);
    this.#spoken = new Promise((resolve) => {
      this.#spoke = resolve;
    });
    this.settled = new Promise((resolve) => {
      this.#settle = resolve;
    });
    this.resumed = new Promise((resolve) => {
      this.#resume = resolve;
    });
    channel.onmessage = ({ data }) => {
      const control = parseControl(data);
      if (!control) return;
      if (control.type === "file-ack") {
        this.paced = true;
        this.check ??= checkNamed(control.check);
        this.#acked = Math.max(this.#acked, control.blocks);
        this.#resume(control.blocks);
      } else if (control.type === "file-received") this.#end("received");
      else if (control.type === "file-corrupt") this.#end("corrupt");
      else if (control.type === "file-cancel") this.#end("cancelled");
      this.#spoke();
      this.#wake();
    };
    channel.onclose = () => this.#end("closed");
  }

  #end(outcome: WireOutcome): void {
    if (this.ended) return; // the verdict stands; the channel's close comes after it
    this.ended = true;
    this.outcome = outcome;
    this.#settle(outcome);
    this.#resume(null);
    this.#spoke();
    this.#wake();
  }

  /**
   * Resolves true once block `index` may be sent: the receiver has stored all
   * but `WINDOW` of the blocks before it. False once the channel is done.
   */
  async window(index: number): Promise<boolean> {
    if (index >= WINDOW && !(await this.decided())) return false;
    while (!this.ended && this.paced && index - this.#acked >= WINDOW) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    return !this.ended;
  }

  /**
   * Resolves once the receiver has said whether it paces and how it checks blocks: at its first word, or
   * `FIRST_ACK_MS` without one (a page from before acks: unpaced, and SHA-256 unless a late ack says otherwise).
   * False once the channel is done, or if the silence ends it.
   */
  async decided(): Promise<boolean> {
    if (this.paced === undefined) {
      await within(this.#spoken, FIRST_ACK_MS);
      if (this.paced === undefined && this.#silenceEnds) this.#end("silent");
      this.paced ??= false;
    }
    return !this.ended;
  }

  say(control: FileHeader | FileControl | { type: "file-resume" }): void {
    if (this.channel.readyState === "open") this.channel.send(JSON.stringify(control));
  }
}

/** Incoming transfers from one peer at once; more are refused. */
const MAX_INCOMING = 8;

/** Ids of files received lately, kept to answer a resume that crossed the verdict. */
const RECEIVED_KEPT = 16;

/** One peer's incoming files: those under way (by transfer id), the last received, and the largest size accepted. */
export interface Inbox {
  readonly transfers: Map<string, Incoming>;
  readonly received: string[];
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

/** Takes a file channel from the peer whose files `inbox` holds: a new file, or one resumed. */
export function receiveFile(channel: RTCDataChannel, inbox: Inbox, on: ReceiveEvents): void {
  channel.binaryType = "arraybuffer";
  const id = channel.label.slice(5);
  channel.onmessage = ({ data }) => {
    channel.onmessage = null;
    const opening = v.safeParse(FileOpening, parseJson(data));
    if (!opening.success) return channel.close();
    if (opening.output.type === "file-resume") {
      const incoming = inbox.transfers.get(id);
      if (incoming?.resume(channel)) return;
      // Its channel closed between our verdict and the sender hearing it: say it again.
      if (inbox.received.includes(id)) return sendControl(channel, { type: "file-received" });
      return refuse(channel); // it ended meanwhile (or never was): the sender's side ends too
    }
    const header = opening.output;
    const { size } = header;
    // A header for a transfer this page has already: the sender heard nothing back on its channel (this page's
    // answer came late, or was lost) and starts over on a new one. So does this page; a peer restarts only its own.
    inbox.transfers.get(id)?.abandon();
    if (size > inbox.maxFileSize) {
      return refuse(channel, on, "file-too-large", `a file of ${size} bytes, above maxFileSize`);
    }
    if (inbox.transfers.size >= MAX_INCOMING) {
      return refuse(channel, on, "too-many-files", `over ${MAX_INCOMING} files at once`);
    }
    const incoming = new Incoming(id, header, channel, on);
    inbox.transfers.set(id, incoming);
    incoming.transfer.addEventListener("end", ({ detail }) => {
      inbox.transfers.delete(id);
      if (detail.state === "done") inbox.received.splice(0, inbox.received.push(id) - RECEIVED_KEPT);
    });
    on.start(incoming.transfer);
  };
}

/** Cancels before the first byte: whatever is already on its way is dropped unread. */
function refuse(
  channel: RTCDataChannel,
  on?: ReceiveEvents,
  code?: Parameters<ReceiveEvents["refuse"]>[0],
  message?: string,
): void {
  sendControl(channel, { type: "file-cancel" });
  channel.close();
  if (on && code && message) on.refuse(code, message);
}

/**
 * One incoming file: cuts the bytes into 1 MiB blocks, checks and stores
 * each, acks it once stored, and checks the digest at the end. Outlives a
 * closed channel for `SUSPEND_MS` when its sender can resume.
 */
export class Incoming {
  readonly transfer: Transfer;
  readonly #store: Store;
  readonly #digests = new HashList();
  #channel: RTCDataChannel;
  /** Frames of the block being filled. */
  #pending: ArrayBuffer[] = [];
  #pendingBytes = 0;
  /** Blocks whole and checked (handed to the store), and how many of those are stored. */
  #sealed = 0;
  #stored = 0;
  #suspended: ReturnType<typeof setTimeout> | undefined;
  /** Resumed, and the blocks sealed before not all stored yet: the only ack to say is the resume's. */
  #resuming = false;

  /** The sender paces by acks and resumes: a v1 sender does neither. */
  private readonly resumable: boolean;
  /** How blocks are checked: the sender's offer taken up, or SHA-256. */
  private readonly check: Check;

  constructor(
    id: string,
    { name, size, mime, acks, check }: FileHeader,
    channel: RTCDataChannel,
    private readonly on: ReceiveEvents,
  ) {
    const resumable = acks === true;
    this.resumable = resumable;
    this.check = resumable ? checkNamed(check) : "sha256";
    this.#channel = channel;
    // A sender that does not pace (a page from before acks) could outrun a disk: its file goes to Blob parts.
    this.#store = new Store(resumable ? size : null, (error) => {
      // The protocol's one word for a receiver that gives up: the sender drops it and goes on with the others.
      this.#say({ type: "file-cancel" });
      this.transfer.finish("failed", `the file could not be stored (${String(error)})`);
    });
    this.transfer = new Transfer(id, name, size, mime, {
      cancel: () => this.#say({ type: "file-cancel" }),
      release: () => this.#store.discard(),
    });
    this.transfer.addEventListener("end", ({ detail }) => {
      clearTimeout(this.#suspended);
      // The sender closes the channel: a receiver's confirmation must not race its teardown.
      if (detail.state !== "done") {
        this.#channel.close();
        this.#store.discard(); // a cancelled or failed download keeps nothing
        this.#pending = [];
      }
    });
    this.#listen(channel);
    // "I pace", and the check taken up: the sender need not wait to find out.
    if (resumable) this.#say({ type: "file-ack", blocks: 0, ...(this.check === "murmur3" && { check: this.check }) });
  }

  /** Ends the transfer at once: its peer is gone, and nothing can resume it. */
  abandon(): void {
    this.transfer.finish("failed", CLOSED);
  }

  /**
   * A new channel for this transfer: goes on from the blocks stored. The old
   * channel may not have reported its close yet (channels close in no
   * particular order); from now on it is ignored.
   */
  resume(channel: RTCDataChannel): boolean {
    if (!this.resumable || this.transfer.state !== "active") return false;
    const old = this.#channel;
    old.onmessage = old.onclose = null;
    old.close();
    clearTimeout(this.#suspended);
    this.#suspended = undefined;
    this.#channel = channel;
    // The block being filled is dropped: the sender sends it again, whole.
    this.#pending = [];
    this.#pendingBytes = 0;
    this.transfer.progress(this.#sealed * BLOCK);
    this.#listen(channel);
    // Said once what is sealed is stored, so the count is the place to go on from. The sender takes the first
    // ack on a new channel for that place: the acks of blocks stored meanwhile would send it back too far.
    this.#resuming = true;
    void this.#store.flushed().then(() => {
      this.#resuming = false;
      this.#say({ type: "file-ack", blocks: this.#stored });
    });
    return true;
  }

  #listen(channel: RTCDataChannel): void {
    channel.onmessage = ({ data }) => {
      if (this.transfer.state !== "active" || channel !== this.#channel) return;
      if (data instanceof ArrayBuffer) return this.#take(data);
      const control = parseControl(data);
      if (control?.type === "file-cancel") this.transfer.finish("cancelled", "the sender cancelled");
      else if (control?.type === "file-end") void this.#verify(control.sha256);
    };
    channel.onclose = () => {
      if (channel !== this.#channel || this.transfer.state !== "active") return;
      if (!this.resumable) return this.transfer.finish("failed", CLOSED);
      this.#suspended = setTimeout(() => this.transfer.finish("failed", CLOSED), SUSPEND_MS);
    };
  }

  /** Cuts the bytes into exact 1 MiB blocks, whatever sizes the frames come in. */
  #take(data: ArrayBuffer): void {
    const loaded = this.#sealed * BLOCK + this.#pendingBytes;
    if (loaded + data.byteLength > this.transfer.size) {
      this.#fail();
      return;
    }
    // A sender that said it paces and does not would have this page hold what the disk has not taken yet.
    if (this.resumable && loaded + data.byteLength > (this.#stored + WINDOW) * BLOCK) {
      this.#say({ type: "file-cancel" });
      this.transfer.finish("failed", "the sender did not wait for the file to be stored");
      return;
    }
    for (let at = 0; at < data.byteLength; ) {
      const size = Math.min(BLOCK - this.#pendingBytes, data.byteLength - at);
      this.#pending.push(size === data.byteLength ? data : data.slice(at, at + size));
      this.#pendingBytes += size;
      at += size;
      if (this.#pendingBytes === BLOCK) this.#seal();
    }
    this.transfer.progress(loaded + data.byteLength);
  }

  /** One block: its digest joins the hash list, its bytes the stored file; the sender hears once it is stored. */
  #seal(): void {
    const block = joined(this.#pending, this.#store.buffer(this.#pendingBytes));
    this.#digests.add(this.#sealed, block, [this.check]);
    this.#sealed += 1;
    this.#pending = [];
    this.#pendingBytes = 0;
    void this.#store.add(block).then(() => {
      this.#stored += 1;
      if (this.resumable && !this.#resuming) this.#say({ type: "file-ack", blocks: this.#stored });
    }, ignore);
  }

  async #verify(expected: string): Promise<void> {
    if (this.#pendingBytes > 0) this.#seal();
    const transfer = this.transfer;
    const complete = this.#sealed * BLOCK >= transfer.size && transfer.loaded === transfer.size;
    const intact = complete && expected === (await this.#digests.hex(this.#sealed, this.check));
    if (transfer.state !== "active") return; // cancelled while the digest was computed
    if (!intact) return this.#fail();
    // The sender hears "received" only once the file is stored; a store that fails ends the transfer itself.
    const blob = await this.#store.finish().catch(ignore);
    if (!blob || transfer.state !== "active") return;
    this.#say({ type: "file-received" });
    transfer.finish("done");
    this.on.complete(transfer, blob);
  }

  #fail(): void {
    this.#say({ type: "file-corrupt" });
    this.transfer.finish("failed", "the file arrived corrupted");
  }

  #say(control: FileControl): void {
    sendControl(this.#channel, control);
  }
}

/**
 * Where a received file's blocks go, in order: a file in OPFS, or Blob
 * segments where OPFS is not to be had. Each step waits for the one before
 * in `#queue`; the sender's window bounds how many wait.
 */
class Store {
  #disk: Disk | null = null;
  /** Without a disk: the segments, and the blocks not yet folded into one. */
  #segments: Blob[] = [];
  #blocks: Uint8Array<ArrayBuffer>[] = [];
  #queue: Promise<unknown>;
  /** Discarded, or lost: later blocks go nowhere. */
  #over = false;

  /** `size` is the room to find on disk; null keeps the file in Blob segments. */
  constructor(
    size: number | null,
    private readonly lost: (error: unknown) => void,
  ) {
    // Missing, refused (private browsing) or short of room: Blob segments from the first byte, for the whole transfer.
    const disk = size === null ? Promise.reject(new Error("not paced")) : openDisk(size);
    this.#queue = disk.then((disk) => {
      this.#disk = disk;
    }, ignore);
  }

  /** Resolves once the block is stored; rejects if it never will be. The block is the store's from then on. */
  add(block: Uint8Array<ArrayBuffer>): Promise<void> {
    return this.#then(async () => {
      if (this.#over) throw new Error("discarded");
      if (this.#disk) return this.#disk.write(block);
      this.#blocks.push(block);
      if (this.#blocks.length < BLOCKS_PER_SEGMENT) return;
      this.#segments.push(new Blob(this.#blocks));
      this.#blocks = [];
    });
  }

  /** A buffer of `bytes` to fill with the next block: one the disk is done with, where it has one. */
  buffer(bytes: number): Uint8Array<ArrayBuffer> {
    return this.#disk?.spare(bytes) ?? new Uint8Array(bytes);
  }

  /** Resolves once every step so far is done, however it went. */
  flushed(): Promise<void> {
    return this.#queue.then(ignore, ignore);
  }

  /**
   * The whole file, once every block is stored. From OPFS it is the stored
   * File, retyped: a File's type comes from its name, and a Blob made of a
   * File refers to the file on disk, it does not copy it.
   */
  finish(): Promise<Blob> {
    return this.#then(async () => {
      if (!this.#disk) return new Blob([...this.#segments, ...this.#blocks], { type: OCTET });
      return new Blob([await this.#disk.close()], { type: OCTET });
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
      await disk?.remove();
    }).catch(ignore);
  }

  /**
   * Runs a step after the others. A step that fails loses the file: the
   * blocks before it are acked and gone from this page, so there is nothing
   * to fall back on midway.
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

/**
 * SHA-256 over the checks of the blocks, in order, each block checked as it
 * comes, by one check or both (a sender that does not know yet which its
 * receiver takes). A block sent again (after a resume) keeps the check it got
 * first.
 *
 * MurmurHash3 runs in this thread over the block in place: about 0.3 ms a
 * MiB. WebCrypto's SHA-256 copies the block into fresh memory and hashes it
 * within the call, on the main thread: 1.5–2 ms a MiB alone, 3–4.5 ms inside
 * a transfer, which where both browsers share two cores cost 5–10% of the
 * rate (bench/results/2026-12-03-files-ablation).
 */
class HashList {
  readonly #lists: Record<Check, Promise<ArrayBuffer>[]> = { murmur3: [], sha256: [] };

  add(index: number, block: Uint8Array<ArrayBuffer>, checks: readonly Check[]): void {
    for (const check of checks) {
      this.#lists[check][index] ??=
        check === "murmur3" ? Promise.resolve(murmur3(block).buffer) : crypto.subtle.digest("SHA-256", block);
    }
  }

  /** The digest of the first `blocks` blocks, by their `check`. */
  async hex(blocks: number, check: Check): Promise<string> {
    const checks = await Promise.all(this.#lists[check].slice(0, blocks));
    const list = new Uint8Array(await crypto.subtle.digest("SHA-256", joined(checks)));
    return Array.from(list, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }
}

/** Copies buffers into one, `into` if given (it must be their size). */
function joined(
  buffers: ArrayBuffer[],
  into = new Uint8Array(buffers.reduce((total, buffer) => total + buffer.byteLength, 0)),
): Uint8Array<ArrayBuffer> {
  let at = 0;
  for (const buffer of buffers) {
    into.set(new Uint8Array(buffer), at);
    at += buffer.byteLength;
  }
  return into;
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
