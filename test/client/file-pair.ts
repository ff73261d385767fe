/**
 * A real sender and a real receiver of files (which keeps the file in Blob
 * parts: Node has no OPFS) over pairs of fake channels, which can rewrite
 * what one side says (to play an older page) or hold it back.
 */
import { type Inbox, receiveFile, sendFile, type Transfer } from "../../src/client/files";
import { murmur3 } from "../../src/client/murmur";

export const MiB = 1024 * 1024;

/**
 * One end of a channel pair: what it sends reaches the other end a task later, in order. Frames go on
 * `setImmediate`, which tests on fake timers leave real: only the library's own timers wait for the clock.
 */
export class End extends EventTarget {
  readyState: RTCDataChannelState = "open";
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  binaryType: BinaryType = "arraybuffer";
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: (() => void) | null = null;
  /** Every text frame this end sent, as sent, and the binary bytes. */
  readonly said: string[] = [];
  bytesSent = 0;
  /** What the other end receives of a text frame this end sends. */
  rewrite: (text: string) => string = (text) => text;
  /** Frames held back while set, delivered in order by `release`. */
  #held: (() => void)[] | null = null;
  other: End | null = null;

  constructor(readonly label: string) {
    super();
  }

  send(data: string | ArrayBufferView): void {
    if (typeof data === "string") this.said.push(data);
    else this.bytesSent += data.byteLength;
    // A sender's bytes are copied on send, as a browser's are: it fills its buffer again after.
    const payload =
      typeof data === "string"
        ? this.rewrite(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer;
    const deliver = () => this.other?.receive(payload);
    if (this.#held) this.#held.push(deliver);
    else setImmediate(deliver);
  }

  /** An end made `connecting` opens. */
  open(): void {
    this.readyState = "open";
    this.dispatchEvent(new Event("open"));
  }

  hold(): void {
    this.#held = [];
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const deliver of held) setImmediate(deliver);
  }

  receive(data: string | ArrayBuffer): void {
    if (this.readyState !== "open") return;
    this.onmessage?.(new MessageEvent("message", { data }));
  }

  /** Whether the other end hears of a close: false plays a close still on its way when the next frames come. */
  closesOther = true;

  close(): void {
    for (const end of [this, this.closesOther ? this.other : null]) {
      if (!end || end.readyState === "closed") continue;
      end.readyState = "closed";
      end.dispatchEvent(new Event("close"));
      end.onclose?.();
    }
  }
}

/** The hex SHA-256 of the blocks' checks, as a sender says it in `file-end`. */
export async function digestOf(bytes: Uint8Array<ArrayBuffer>, check: "murmur3" | "sha256"): Promise<string> {
  const checks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += MiB) {
    const block = bytes.subarray(at, at + MiB);
    checks.push(
      check === "murmur3" ? murmur3(block) : new Uint8Array(await crypto.subtle.digest("SHA-256", block.slice())),
    );
  }
  return Buffer.from(await crypto.subtle.digest("SHA-256", Buffer.concat(checks))).toString("hex");
}

export function randomFile(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

/** Two ends of one channel, linked. */
export function linked(): { sender: End; receiver: End } {
  const sender = new End("file:test");
  const receiver = new End("file:test");
  sender.other = receiver;
  receiver.other = sender;
  return { sender, receiver };
}

/** A receiving page's side of an end: the transfer once it starts, and the file once it arrives intact. */
export function receiveOn(
  end: End,
  inbox: Inbox = newInbox(),
): { incoming: Promise<Transfer>; arrived: Promise<Blob> } {
  let started: (transfer: Transfer) => void = () => {};
  const incoming = new Promise<Transfer>((resolve) => {
    started = resolve;
  });
  const arrived = new Promise<Blob>((resolve, reject) => {
    // The fakes have every member the two sides use; the rest of RTCDataChannel is never read.
    receiveFile(end as unknown as RTCDataChannel, inbox, {
      start: started,
      complete: (_transfer, blob) => resolve(blob),
      refuse: (_code, message) => reject(new Error(message)),
    });
  });
  return { incoming, arrived };
}

export function newInbox(): Inbox {
  return { transfers: new Map(), received: [], maxFileSize: 2 ** 32 };
}

/** Sends `bytes` over `channel`; `reopen` gives the sender each new channel it asks for. */
export function send(
  bytes: Uint8Array<ArrayBuffer>,
  channel: End,
  reopen: () => Promise<End | null> = async () => null,
): Transfer {
  return sendFile(new Blob([bytes]), "test", [
    {
      channel: channel as unknown as RTCDataChannel,
      maxMessageSize: () => 256 * 1024,
      reopen: async () => (await reopen()) as unknown as RTCDataChannel | null,
    },
  ]);
}

/** The frames of one type that an end said, parsed. */
export function saidBy(end: End, type: string): Record<string, unknown>[] {
  return end.said.map((text) => JSON.parse(text) as Record<string, unknown>).filter((frame) => frame.type === type);
}

/** A sender and a receiver over a fresh pair of ends; the caller may rewrite or hold either end first. */
export function pair(
  bytes: Uint8Array<ArrayBuffer>,
  prepare: (ends: { sender: End; receiver: End }) => void = () => {},
) {
  const ends = linked();
  prepare(ends);
  const { incoming, arrived } = receiveOn(ends.receiver);
  const transfer = send(bytes, ends.sender);
  return { ...ends, transfer, incoming, arrived };
}
