/**
 * Received files on disk, in Chromium and Firefox against wrangler dev: a
 * receiver appends each block to a file in the Origin Private File System as
 * it arrives, and acks it once stored, so the sender keeps it holding at most
 * `WINDOW` blocks whatever the file's size and the disk's pace; it hands out
 * the verified file from there; it falls back to Blob
 * parts where OPFS is refused or short of room; a cancelled or failed
 * transfer leaves nothing stored; `release()` deletes a received file; and a
 * page that joins deletes what closed pages left, never what an open tab
 * holds.
 *
 * Pages are driven through call-harness.ts's `CallPage`, the same in both
 * browsers; the sender is always Chromium.
 */
import { expect, it } from "vitest";
import type { DiskReply, DiskRequest } from "../../src/client/disk-messages";
import type { Transfer } from "../../src/client/mesh";
import { describeWithBrowser, firefoxRequirement, useStack } from "./browser";
import { type CallPage, callPage, connectedPeers, joinCall } from "./call-harness";

const MiB = 1024 * 1024;
/** What every received file is handed out as. */
const OCTET = "application/octet-stream";
/**
 * What the receiving page may hold of a file at once, whatever the disk's pace: the sender sends a block only
 * while all but `WINDOW` (4) of the blocks before it are stored, so this is a bound, not a timing.
 */
const BUDGET = 4 * MiB;

interface Arrival {
  size: number;
  type: string;
  digest: string;
}

interface StoredFile {
  name: string;
  size: number;
}

/** What a receiving page records of its incoming files and of the library's writes (see `installProbe`). */
interface Probe {
  incoming: Transfer[];
  arrivals: Arrival[];
  blobs: Blob[];
  /** Writes to OPFS, and bytes they wrote, in the current transfer. */
  writes: number;
  written: number;
  /** Most bytes of the current transfer received and not yet written. */
  peakHeld: number;
  /** Bytes put in Blobs since the current transfer started, and as of its last progress event. */
  blobBytes: number;
  blobBytesDuring: number;
  /** Writes after this many fail as a full disk would. */
  failWritesAfter: number;
  /** Each write takes this much longer, as on a disk slower than the network. */
  slowWritesMs: number;
  stored(): Promise<StoredFile[]>;
  /** Resolves once `rendezvous-incoming` holds `count` entries. */
  waitStored(count: number): Promise<void>;
  /** Resolves once the `count`th incoming transfer has `bytes`, and something is stored. */
  started(count: number, bytes: number): Promise<void>;
  /** How the `count`th incoming transfer ended, once it has: its state, and its `done` rejection if any. */
  ended(count: number): Promise<{ state: string; reason: string }>;
  /** Bytes received when the first write began (diagnostic). */
  heldAtFirstWrite: number;
  /** How blocks reached OPFS: through the disk worker, or `createWritable`'s stream. */
  paths: Set<"worker" | "stream">;
  /** Workers the page started since the probe was installed. */
  workers: number;
}

declare global {
  interface Window {
    filesDisk: Probe;
    /** The sender's last transfer: its outcome, and the channels it opened (one a receiver). */
    filesDiskOut: { transfer: Transfer; outcome: Promise<string>; channels: RTCDataChannel[] };
  }
}

/** In the page, after joinCall: records incoming files, counts OPFS writes and Blob bytes, and can fail writes. */
function installProbe(): void {
  const probe: Probe = {
    incoming: [],
    arrivals: [],
    blobs: [],
    writes: 0,
    written: 0,
    peakHeld: 0,
    blobBytes: 0,
    blobBytesDuring: 0,
    failWritesAfter: Number.POSITIVE_INFINITY,
    slowWritesMs: 0,
    heldAtFirstWrite: -1,
    paths: new Set(),
    workers: 0,
    // The prototype's own getDirectory: a test may stub the page's.
    stored: async () => {
      const root = await StorageManager.prototype.getDirectory.call(navigator.storage);
      let dir: FileSystemDirectoryHandle;
      try {
        dir = await root.getDirectoryHandle("rendezvous-incoming");
      } catch {
        return [];
      }
      const files: StoredFile[] = [];
      for await (const [name, handle] of dir.entries()) {
        const size =
          handle instanceof FileSystemFileHandle
            ? await handle.getFile().then(
                (f) => f.size,
                () => -1,
              )
            : -1;
        files.push({ name, size });
      }
      return files;
    },
    waitStored: async (count) => {
      for (const deadline = Date.now() + 20_000; ; ) {
        const files = await probe.stored();
        if (files.length === count) return;
        if (Date.now() > deadline) throw new Error(`stored: ${JSON.stringify(files)}, not ${count} files`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    started: async (count, bytes) => {
      for (const deadline = Date.now() + 20_000; ; ) {
        const loaded = probe.incoming[count - 1]?.loaded ?? 0;
        if (loaded >= bytes && (await probe.stored()).length > 0) return;
        if (Date.now() > deadline)
          throw new Error(
            `transfer ${count}: ${probe.incoming.length} began, ${loaded} bytes arrived, ${(await probe.stored()).length} stored`,
          );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    ended: async (count) => {
      for (const deadline = Date.now() + 20_000; probe.incoming.length < count; ) {
        if (Date.now() > deadline) throw new Error(`${probe.incoming.length} incoming transfers, not ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const transfer = probe.incoming[count - 1];
      if (!transfer) throw new Error("no incoming transfer");
      const reason = await transfer.done.then(
        () => "",
        (error: Error) => error.message,
      );
      return { state: transfer.state, reason };
    },
  };
  window.filesDisk = probe;

  // Every block written, through the disk worker or a writable stream, is counted, and slowed or failed as the test says.
  const hooked = async (path: "worker" | "stream", bytes: number, write: () => Promise<void>) => {
    if (probe.writes === 0) probe.heldAtFirstWrite = probe.incoming.at(-1)?.loaded ?? -2;
    probe.paths.add(path);
    if (++probe.writes > probe.failWritesAfter) throw new DOMException("the disk is full", "QuotaExceededError");
    if (probe.slowWritesMs > 0) await new Promise((resolve) => setTimeout(resolve, probe.slowWritesMs));
    await write();
    probe.written += bytes;
  };
  const write = FileSystemWritableFileStream.prototype.write;
  FileSystemWritableFileStream.prototype.write = function (
    this: FileSystemWritableFileStream,
    data: FileSystemWriteChunkType,
  ) {
    return hooked("stream", ArrayBuffer.isView(data) ? data.byteLength : 0, () => write.call(this, data));
  };
  window.Worker = new Proxy(Worker, {
    construct(target, args: ConstructorParameters<typeof Worker>) {
      probe.workers += 1;
      return new target(...args);
    },
  });
  // The disk worker's `write` requests, among the page's messages to workers.
  const isWrite = (message: unknown): message is Extract<DiskRequest, { op: "write" }> =>
    typeof message === "object" &&
    message !== null &&
    "op" in message &&
    message.op === "write" &&
    "file" in message &&
    typeof message.file === "number" &&
    "bytes" in message &&
    message.bytes instanceof ArrayBuffer;
  // The page's side of the worker's writes: the request goes on once the hook allows, and is done at its answer.
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (
    this: Worker,
    ...args: [message: unknown, options?: Transferable[] | StructuredSerializeOptions]
  ) {
    const [request] = args;
    if (!isWrite(request)) return Reflect.apply(post, this, args);
    const { file, bytes } = request;
    const answered = () =>
      new Promise<void>((resolve) => {
        const listener = ({ data }: MessageEvent<DiskReply>) => {
          if (data.file !== file) return;
          this.removeEventListener("message", listener);
          resolve();
        };
        this.addEventListener("message", listener);
        Reflect.apply(post, this, args);
      });
    hooked("worker", bytes.byteLength, answered).catch((error: DOMException) => {
      const failed: DiskReply = { file, ok: false, name: error.name, message: error.message };
      this.dispatchEvent(new MessageEvent("message", { data: failed }));
    });
  };
  const NativeBlob = Blob;
  window.Blob = class extends NativeBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      probe.blobBytes += this.size;
    }
  };
  const sample = () => {
    const transfer = probe.incoming.at(-1);
    if (transfer?.state === "active") probe.peakHeld = Math.max(probe.peakHeld, transfer.loaded - probe.written);
  };
  setInterval(sample, 0);

  window.call.room.addEventListener("file-start", ({ detail: { transfer } }) => {
    probe.incoming.push(transfer);
    probe.writes = probe.written = probe.peakHeld = probe.blobBytes = 0;
    probe.heldAtFirstWrite = -1;
    probe.paths.clear();
    transfer.addEventListener("progress", () => {
      sample();
      probe.blobBytesDuring = probe.blobBytes;
    });
  });
  window.call.room.addEventListener("file", async ({ detail: { size, blob } }) => {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
    const hex = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
    probe.blobs.push(blob);
    probe.arrivals.push({ size, type: blob.type, digest: hex });
  });
}

/**
 * In the sending page: sends `mib` MiB (each MiB numbered, so a block out of
 * order shows) to `to`, or to everyone; `window.filesDiskOut` tracks it.
 * Resolves with the file's SHA-256 if `hash`, else "". With `corrupt`, the
 * network flips one byte of the fifth chunk.
 */
async function sendTo({
  to,
  mib,
  hash,
  corrupt,
}: {
  to: string | null;
  mib: number;
  hash: boolean;
  corrupt: boolean;
}): Promise<string> {
  const block = new Uint8Array(1024 * 1024);
  for (let at = 0; at < block.length; at += 65_536) crypto.getRandomValues(block.subarray(at, at + 65_536));
  const parts = Array.from({ length: mib }, (_, i) => [new Uint32Array([i]), block.subarray(4)]).flat();
  const file = new File(parts, "disk.bin", { type: "text/html" });
  if (corrupt) {
    const send = RTCDataChannel.prototype.send;
    let chunks = 0;
    RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: never) {
      const bytes: unknown = data;
      if (this.label.startsWith("file:") && bytes instanceof Uint8Array && ++chunks === 5) {
        RTCDataChannel.prototype.send = send;
        const copy = bytes.slice();
        copy[100] = (copy[100] ?? 0) ^ 0xff;
        return send.call(this, copy);
      }
      return send.call(this, data);
    };
  }
  // The channels sendFile opens, kept to say how they stand if a receiver never hears of the file.
  const channels: RTCDataChannel[] = [];
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (this: RTCPeerConnection, ...args) {
    const channel = Reflect.apply(create, this, args);
    channels.push(channel);
    return channel;
  };
  let transfer: Transfer;
  try {
    transfer = window.call.room.sendFile(file, to === null ? {} : { to });
  } finally {
    RTCPeerConnection.prototype.createDataChannel = create;
  }
  window.filesDiskOut = {
    transfer,
    outcome: transfer.done.then(
      () => "done",
      (error: Error) => error.message,
    ),
    channels,
  };
  if (!hash) return "";
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A page of the app's origin, and how to close it. */
interface Tab {
  page: CallPage;
  id: string;
  close(): Promise<void>;
}

/** One browser context (one origin's storage and locks) that opens tabs joined to a room. */
interface Profile {
  open(room: string, name: string, prepare?: (page: CallPage) => Promise<unknown>): Promise<Tab>;
  close(): Promise<void>;
}

type Kind = "chromium" | "firefox";

describeWithBrowser("received files on disk", () => {
  const stack = useStack({}, { firefox: true });

  async function profile(kind: Kind): Promise<Profile> {
    const url = `${stack.server.url}/`;
    const open = async (
      newPage: () => Promise<{ evaluate(script: string): Promise<unknown>; close(): Promise<void> }>,
      room: string,
      name: string,
      prepare?: (page: CallPage) => Promise<unknown>,
    ): Promise<Tab> => {
      const raw = await newPage();
      const page = callPage((script) => raw.evaluate(script));
      await prepare?.(page);
      return { page, id: await joinCall(page, room, name), close: () => raw.close() };
    };
    if (kind === "chromium") {
      const context = await stack.browser.newContext();
      const newPage = async () => {
        const page = await context.newPage();
        page.on("pageerror", (error) => console.error("[chromium] page error:", error.message));
        await page.goto(url);
        return page;
      };
      return { open: (room, name, prepare) => open(newPage, room, name, prepare), close: () => context.close() };
    }
    const context = await stack.firefox.createBrowserContext();
    const newPage = async () => {
      const page = await context.newPage();
      page.on("pageerror", (error) => console.error("[firefox] page error:", String(error)));
      await page.goto(url);
      return page;
    };
    return { open: (room, name, prepare) => open(newPage, room, name, prepare), close: () => context.close() };
  }

  /** A Chromium sender and a receiver in `kind`, connected, the receiver probed. */
  async function pair(kind: Kind, room: string): Promise<{ sender: Tab; receiver: Tab; close(): Promise<void> }> {
    const [senders, receivers] = await Promise.all([profile("chromium"), profile(kind)]);
    const sender = await senders.open(room, "Ann");
    const receiver = await receivers.open(room, "Bob");
    await Promise.all([connectedPeers(sender.page, 1), connectedPeers(receiver.page, 1)]);
    await receiver.page.evaluate(installProbe, null);
    return { sender, receiver, close: () => Promise.all([senders.close(), receivers.close()]).then(() => undefined) };
  }

  const outcome = (sender: Tab) => sender.page.evaluate(() => window.filesDiskOut.outcome, null);

  /** How the sender's last transfer and its channels stand: whether a receiver that heard nothing was ever reached. */
  const senderSide = (sender: Tab) =>
    sender.page.evaluate(() => {
      const { transfer, channels } = window.filesDiskOut;
      const states = channels.map((c) => `${c.label} #${c.id} ${c.readyState}, ${c.bufferedAmount} bytes buffered`);
      return `the sender's transfer ${transfer.state}, ${transfer.loaded} bytes sent; its channels: ${states.join("; ")}`;
    }, null);

  /**
   * A Chromium sender, and a Chromium receiver (a profile of its own) for each of `prepares`, which runs in its
   * page before it joins: sends them all `mib` MiB, `times` times one after the other, and says what each
   * receiver's probe saw once the last arrived.
   */
  async function sendToPrepared(
    room: string,
    mib: number,
    prepares: ((page: CallPage) => Promise<unknown>)[],
    times = 1,
  ) {
    const [senders, ...profiles] = await Promise.all([profile("chromium"), ...prepares.map(() => profile("chromium"))]);
    if (!senders) throw new Error("no sender");
    const sender = await senders.open(room, "Ann");
    const receivers: Tab[] = [];
    for (const [i, prepare] of prepares.entries()) {
      const receiving = profiles[i];
      if (receiving) receivers.push(await receiving.open(room, `Receiver ${i + 1}`, prepare));
    }
    const peers = prepares.length;
    await Promise.all([sender, ...receivers].map((tab) => connectedPeers(tab.page, peers)));
    for (const receiver of receivers) await receiver.page.evaluate(installProbe, null);
    const digests: string[] = [];
    for (let i = 0; i < times; i++) {
      digests.push(await sender.page.evaluate(sendTo, { to: null, mib, hash: true, corrupt: false }));
      expect(await outcome(sender)).toBe("done");
    }
    const seen = [];
    for (const receiver of receivers) {
      await receiver.page.evaluate((count) => window.filesDisk.ended(count), times);
      seen.push(
        await receiver.page.evaluate(async (count) => {
          const probe = window.filesDisk;
          for (let i = 0; probe.arrivals.length < count && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
          const { writes, blobBytesDuring, arrivals, workers } = probe;
          return { paths: [...probe.paths], writes, blobBytesDuring, arrivals, workers, stored: await probe.stored() };
        }, times),
      );
    }
    await Promise.all([senders, ...profiles].map((p) => p.close()));
    return { digests, seen };
  }

  for (const kind of ["chromium", "firefox"] as const) {
    it(`${kind}: a file 8 times the page's budget arrives intact through a slow OPFS, and release() deletes it`, async () => {
      const { sender, receiver, close } = await pair(kind, `disk-arrive-${kind}`);
      // A disk far slower than loopback: without the sender's window, the page would hold most of the file.
      await receiver.page.evaluate(() => {
        window.filesDisk.slowWritesMs = 100;
      }, null);
      const size = 8 * (BUDGET / MiB);
      const digest = await sender.page.evaluate(sendTo, { to: receiver.id, mib: size, hash: true, corrupt: false });
      expect(await outcome(sender)).toBe("done");
      await receiver.page.evaluate(() => window.filesDisk.ended(1), null);
      const probe = await receiver.page.evaluate(async () => {
        const probe = window.filesDisk;
        for (let i = 0; probe.arrivals.length === 0 && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
        const { writes, written, peakHeld, blobBytesDuring, arrivals, heldAtFirstWrite } = probe;
        const paths = [...probe.paths];
        return {
          writes,
          written,
          peakHeld,
          blobBytesDuring,
          arrivals,
          heldAtFirstWrite,
          paths,
          stored: await probe.stored(),
        };
      }, null);
      console.info(
        `${kind}: ${size} MiB received in ${probe.writes} writes; the page held at most ${(probe.peakHeld / MiB).toFixed(2)} MiB of it (${probe.heldAtFirstWrite} bytes had arrived at the first write)`,
      );
      expect(probe.arrivals).toEqual([{ size: size * MiB, type: "application/octet-stream", digest }]);
      // Every block went to disk through the disk worker, one write each, and none into a Blob: the page never
      // held more than its budget.
      expect(probe.paths).toEqual(["worker"]);
      expect(probe.writes).toBe(size);
      expect(probe.written).toBe(size * MiB);
      expect(probe.blobBytesDuring).toBe(0);
      expect(probe.peakHeld).toBeLessThanOrEqual(BUDGET);
      expect(probe.stored).toEqual([{ name: expect.any(String), size: size * MiB }]);
      // Released: the stored file is gone, and the blob that read from it (not a copy) with it.
      await receiver.page.evaluate(() => window.filesDisk.incoming[0]?.release(), null);
      await receiver.page.evaluate(() => window.filesDisk.waitStored(0), null);
      const reread = await receiver.page.evaluate(
        () =>
          window.filesDisk.blobs[0]?.arrayBuffer().then(
            (bytes) => `read ${bytes.byteLength} bytes`,
            (error: Error) => error.name,
          ),
        null,
      );
      expect(reread).not.toMatch(/^read/);
      await close();
    });
  }

  it("chromium: falls back to Blob parts, and the file still arrives, where OPFS is refused or short of room", async () => {
    const { digests, seen } = await sendToPrepared("disk-fallback", 12, [
      // Private browsing, say: OPFS throws.
      (page) =>
        page.evaluate(() => {
          navigator.storage.getDirectory = () => Promise.reject(new DOMException("no OPFS here", "SecurityError"));
        }, null),
      // The origin's quota has no room for the file.
      (page) =>
        page.evaluate(() => {
          navigator.storage.estimate = () => Promise.resolve({ quota: 1024 * 1024, usage: 0 });
        }, null),
    ]);
    for (const probe of seen) {
      expect(probe.arrivals).toEqual(digests.map((digest) => ({ size: 12 * MiB, type: OCTET, digest })));
      expect(probe.writes).toBe(0);
      // Today's 8 MiB segments, and the blocks of the last one until the end.
      expect(probe.blobBytesDuring).toBe(8 * MiB);
      expect(probe.stored).toEqual([]);
    }
  });

  it("chromium: writes through createWritable where the page cannot start the disk worker, and tries it once", async () => {
    const { digests, seen } = await sendToPrepared(
      "disk-stream",
      6,
      [
        // A page that loads /mesh.js from another origin: the browser refuses the worker at once.
        (page) =>
          page.evaluate(() => {
            window.Worker = new Proxy(Worker, {
              construct() {
                throw new DOMException("not this origin's script", "SecurityError");
              },
            });
          }, null),
        // The worker's script does not load: the worker fails after it was made.
        (page) =>
          page.evaluate(() => {
            window.Worker = class extends Worker {
              constructor(_url: string | URL, options?: WorkerOptions) {
                super("/no-such-worker.js", options);
              }
            };
          }, null),
      ],
      2,
    );
    for (const probe of seen) {
      expect(probe.arrivals).toEqual(digests.map((digest) => ({ size: 6 * MiB, type: OCTET, digest })));
      // Two files, and the worker tried for the first only: the page knows it cannot have one.
      expect(probe).toMatchObject({ paths: ["stream"], writes: 6, workers: 1 });
      expect(probe.stored).toEqual([
        { name: expect.any(String), size: 6 * MiB },
        { name: expect.any(String), size: 6 * MiB },
      ]);
    }
  });

  for (const kind of ["chromium", "firefox"] as const) {
    it(`${kind}: a cancelled transfer leaves nothing stored, whichever side cancels`, async () => {
      const { sender, receiver, close } = await pair(kind, `disk-cancel-${kind}`);
      for (const [i, side] of (["receiver", "sender"] as const).entries()) {
        await sender.page.evaluate(sendTo, { to: receiver.id, mib: 64, hash: false, corrupt: false });
        await receiver.page
          .evaluate(({ count, bytes }) => window.filesDisk.started(count, bytes), { count: i + 1, bytes: 2 * MiB })
          .catch(async (error: Error) => {
            throw new Error(`${error.message}; ${await senderSide(sender)}`);
          });
        if (side === "receiver") await receiver.page.evaluate(() => window.filesDisk.incoming.at(-1)?.cancel(), null);
        else await sender.page.evaluate(() => window.filesDiskOut.transfer.cancel(), null);
        expect(await receiver.page.evaluate((count) => window.filesDisk.ended(count), i + 1)).toEqual({
          state: "cancelled",
          reason: side === "receiver" ? "transfer cancelled" : "the sender cancelled",
        });
        expect(await outcome(sender)).toBe(side === "receiver" ? "the receiver cancelled" : "transfer cancelled");
        await receiver.page.evaluate(() => window.filesDisk.waitStored(0), null);
      }
      await close();
    });
  }

  it("chromium: files received at once, and after, share the page's one disk worker, and each arrives intact", async () => {
    const { sender, receiver, close } = await pair("chromium", "disk-together");
    const digests = await sender.page.evaluate(async (to) => {
      const hex = (bytes: ArrayBuffer) =>
        Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
      const files = [3, 5, 4].map((mib, i) => {
        const parts = Array.from({ length: mib * 16 }, () => crypto.getRandomValues(new Uint8Array(64 * 1024)));
        return new File(parts, `together-${i}.bin`);
      });
      const transfers = files.map((file) => window.call.room.sendFile(file, { to }));
      await Promise.all(transfers.map((transfer) => transfer.done));
      return Promise.all(
        files.map(async (file) => hex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()))),
      );
    }, receiver.id);
    const probe = await receiver.page.evaluate(async () => {
      const probe = window.filesDisk;
      for (let i = 0; probe.arrivals.length < 3 && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
      return { digests: probe.arrivals.map((a) => a.digest), workers: probe.workers, stored: await probe.stored() };
    }, null);
    expect(probe.digests.sort()).toEqual(digests.sort());
    expect(probe.workers).toBe(1);
    expect(probe.stored.map((file) => file.size).sort()).toEqual([3 * MiB, 4 * MiB, 5 * MiB]);

    // Once every file has closed, the next one is written by the same worker: it stays, idle, for the page's life.
    await sender.page.evaluate(sendTo, { to: receiver.id, mib: 2, hash: false, corrupt: false });
    expect(await outcome(sender)).toBe("done");
    const after = await receiver.page.evaluate(async () => {
      const probe = window.filesDisk;
      for (let i = 0; probe.arrivals.length < 4 && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
      return { arrivals: probe.arrivals.length, workers: probe.workers };
    }, null);
    expect(after).toEqual({ arrivals: 4, workers: 1 });
    await close();
  });

  it("chromium: a sender that does not wait for its acks is cut off, the receiver holding no more than its budget", async () => {
    const { sender, receiver, close } = await pair("chromium", "disk-overrun");
    await receiver.page.evaluate(() => {
      window.filesDisk.slowWritesMs = 100;
    }, null);
    // The sender hears every ack as "all stored", so it never waits: what a sender that ignores acks does.
    await sender.page.evaluate(() => {
      const own = Object.getOwnPropertyDescriptor(RTCDataChannel.prototype, "onmessage");
      Object.defineProperty(RTCDataChannel.prototype, "onmessage", {
        get() {
          return own?.get?.call(this);
        },
        set(handler: ((event: MessageEvent) => void) | null) {
          const lying = (event: MessageEvent) => {
            const forged = String(event.data).replace(/"blocks":\d+/, '"blocks":1000000');
            handler?.call(this, new MessageEvent("message", { data: forged }));
          };
          own?.set?.call(this, handler && lying);
        },
      });
    }, null);
    await sender.page.evaluate(sendTo, { to: receiver.id, mib: 64, hash: false, corrupt: false });
    expect(await receiver.page.evaluate(() => window.filesDisk.ended(1), null)).toEqual({
      state: "failed",
      reason: "the sender did not wait for the file to be stored",
    });
    expect(await outcome(sender)).toBe("the receiver cancelled");
    expect(await receiver.page.evaluate(() => window.filesDisk.peakHeld, null)).toBeLessThanOrEqual(BUDGET);
    await receiver.page.evaluate(() => window.filesDisk.waitStored(0), null);
    await close();
  });

  it("chromium: a failed transfer leaves nothing stored: corrupted, its disk full midway, or its sender gone", async () => {
    const { sender, receiver, close } = await pair("chromium", "disk-fail");
    const ended = (count: number) => receiver.page.evaluate((count) => window.filesDisk.ended(count), count);
    const nothingStored = () => receiver.page.evaluate(() => window.filesDisk.waitStored(0), null);

    // More blocks than the window: the sender waits for blocks to be stored before it sends the last, so some are
    // written before the verdict. At 4 MiB a fast network could deliver the whole file before the disk opened.
    await sender.page.evaluate(sendTo, { to: receiver.id, mib: (2 * BUDGET) / MiB, hash: false, corrupt: true });
    expect(await ended(1)).toEqual({ state: "failed", reason: "the file arrived corrupted" });
    expect(await outcome(sender)).toBe("the file arrived corrupted");
    expect(await receiver.page.evaluate(() => window.filesDisk.writes, null)).toBeGreaterThan(0);
    await nothingStored();

    // The third write fails as a full disk would: the receiver gives up, and tells the sender so.
    await receiver.page.evaluate(() => {
      window.filesDisk.failWritesAfter = 2;
    }, null);
    await sender.page.evaluate(sendTo, { to: receiver.id, mib: 16, hash: false, corrupt: false });
    const full = await ended(2);
    expect(full.state).toBe("failed");
    expect(full.reason).toMatch(/^the file could not be stored \(QuotaExceededError/);
    expect(await outcome(sender)).toBe("the receiver cancelled");
    await nothingStored();
    await receiver.page.evaluate(() => {
      window.filesDisk.failWritesAfter = Number.POSITIVE_INFINITY;
    }, null);

    await sender.page.evaluate(sendTo, { to: receiver.id, mib: 64, hash: false, corrupt: false });
    await receiver.page.evaluate(({ count, bytes }) => window.filesDisk.started(count, bytes), {
      count: 3,
      bytes: 2 * MiB,
    });
    // Leaving, as the app does when its tab closes: the room tells the receiver at once.
    await sender.page.evaluate(() => window.call.room.leave(), null);
    await sender.close();
    expect(await ended(3)).toEqual({ state: "failed", reason: "the connection closed during the transfer" });
    await nothingStored();
    await close();
  });

  for (const kind of ["chromium", "firefox"] as const) {
    it(`${kind}: a page that joins deletes the files a closed page left, never an open tab's`, async () => {
      const [senders, tabs] = await Promise.all([profile("chromium"), profile(kind)]);
      const room = `disk-sweep-${kind}`;
      const sender = await senders.open(room, "Ann");
      const closed = await tabs.open(room, "Bob");
      const open = await tabs.open(room, "Cy");
      await Promise.all([sender, closed, open].map((tab) => connectedPeers(tab.page, 2)));
      for (const tab of [closed, open]) await tab.page.evaluate(installProbe, null);
      const digest = await sender.page.evaluate(sendTo, { to: null, mib: 1, hash: true, corrupt: false });
      expect(await outcome(sender)).toBe("done");
      // Both tabs keep their file (not released): two files in the profile's one directory.
      await open.page.evaluate(() => window.filesDisk.waitStored(2), null);
      await closed.close();
      // The closed page's lock goes with it.
      await open.page.evaluate(async () => {
        const held = async () =>
          ((await navigator.locks.query()).held ?? []).filter((l) => l.name?.startsWith("rendezvous-incoming/"));
        while ((await held()).length > 1) await new Promise((resolve) => setTimeout(resolve, 50));
      }, null);
      await tabs.open(room, "Dee");
      await open.page.evaluate(() => window.filesDisk.waitStored(1), null);
      // What is left is the open tab's file, still whole.
      const reread = await open.page.evaluate(async () => {
        const blob = window.filesDisk.blobs[0];
        if (!blob) return "";
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
        return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
      }, null);
      expect(reread).toBe(digest);
      await Promise.all([senders.close(), tabs.close()]);
    });
  }
}, [firefoxRequirement]);
