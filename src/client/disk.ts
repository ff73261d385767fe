/**
 * Received files on disk: this page's part of the Origin Private File
 * System's `rendezvous-incoming` directory, a file there for each incoming
 * transfer, and the sweep of files that closed pages left.
 *
 * A file is appended to through a sync access handle in the page's disk
 * worker (disk-worker.ts) where the page can start it, and through
 * `createWritable` where it cannot (a page that loads /mesh.js from another
 * origin, or a browser without sync handles).
 */
import { type DiskOp, type DiskReply, type DiskRequest, INCOMING } from "./disk-messages";

const ignore = () => undefined;

/** A received file being written, in order. */
export interface Disk {
  /** Resolves once the block is stored. Its buffer may be handed to the worker: the caller must not use it again. */
  write(block: Uint8Array<ArrayBuffer>): Promise<void>;
  /** The stored file, once all that was written is on disk. */
  close(): Promise<File>;
  /** Deletes the file, finished or not; whatever is still being written is dropped. */
  remove(): Promise<void>;
  /**
   * A buffer of `bytes` that a write is done with, to fill again, if there is one: a fresh 1 MiB buffer costs the
   * page faults of new memory, about as much as hashing it (bench/results/2026-12-02-files-ablation).
   */
  spare(bytes: number): Uint8Array<ArrayBuffer> | null;
}

/** Written buffers the disk worker keeps to fill again: enough that a steady transfer allocates none. */
const SPARES = 2;

/** Files this page has stored, for their names. */
let storedFiles = 0;

/**
 * A new file in this page's part of `rendezvous-incoming`, open for
 * appending. Fails where OPFS or Web Locks are missing or refused, and where
 * the origin's quota has no room for `size` bytes: a disk that fills up
 * midway loses the transfer.
 */
export async function openDisk(size: number): Promise<Disk> {
  const { dir, page } = await incoming();
  const { quota = 0, usage = 0 } = await navigator.storage.estimate();
  if (quota - usage < size) throw new RangeError("no room for the file");
  const name = `${page}.${++storedFiles}`;
  const handle = await dir.getFileHandle(name, { create: true });
  const remove = () => dir.removeEntry(name).catch(ignore);
  try {
    return await WorkerDisk.open(handle, name, remove).catch(() => streamDisk(handle, remove));
  } catch (error) {
    await remove();
    throw error;
  }
}

/** Appends through `createWritable`: its writes reach the file when it closes (they go to a swap file until then). */
async function streamDisk(handle: FileSystemFileHandle, remove: () => Promise<void>): Promise<Disk> {
  const out = await handle.createWritable();
  return {
    write: (block) => out.write(block),
    close: async () => {
      await out.close();
      return handle.getFile();
    },
    remove: async () => {
      await out.abort().catch(ignore); // a finished file's stream is closed already
      await remove();
    },
    // The stream may hold on to what it was given until it closes.
    spare: () => null,
  };
}

/** Appends through a sync access handle in the page's disk worker, which holds the file locked until `close`. */
class WorkerDisk implements Disk {
  readonly #worker = DiskWorker.acquire();
  readonly #file = this.#worker.newFile();
  /** Done with the worker (closed, removed, or never opened): later requests fail at once. */
  #released = false;

  private constructor(
    private readonly handle: FileSystemFileHandle,
    private readonly removeFile: () => Promise<void>,
  ) {}

  /** Fails where the page cannot start the worker, or the worker cannot open the file. */
  static async open(handle: FileSystemFileHandle, name: string, remove: () => Promise<void>): Promise<Disk> {
    const disk = new WorkerDisk(handle, remove);
    try {
      await disk.#ask({ op: "open", name });
    } catch (error) {
      disk.#release();
      throw error;
    }
    return disk;
  }

  async write(block: Uint8Array<ArrayBuffer>): Promise<void> {
    const written = await this.#ask({ op: "write", bytes: block.buffer }, [block.buffer]);
    if (written) this.#worker.keep(written);
  }

  async close(): Promise<File> {
    await this.#ask({ op: "close" });
    this.#release();
    return this.handle.getFile();
  }

  async remove(): Promise<void> {
    // The handle locks the file until it closes; a worker that failed has let go of it.
    if (!this.#released) await this.#ask({ op: "close" }).catch(ignore);
    this.#release();
    await this.removeFile();
  }

  spare(bytes: number): Uint8Array<ArrayBuffer> | null {
    return this.#released ? null : this.#worker.spare(bytes);
  }

  #ask(op: DiskOp, transfer: Transferable[] = []): Promise<ArrayBuffer | undefined> {
    if (this.#released) return Promise.reject(new Error("the file is closed"));
    return this.#worker.ask({ ...op, file: this.#file }, transfer);
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#worker.release();
  }
}

/**
 * The page's disk worker (disk-worker.ts), shared by the files open through
 * it: any number of transfers at once (up to 8 from each peer) take one
 * thread, and `SPARES` buffers while any is open. Once started it stays for
 * the page's life, idle between files: a page that has received a file
 * likely receives more, and starting a worker to open a file took 14 ms
 * where opening one in a running worker took 2 (medians of 15, an idle
 * Chromium here).
 */
class DiskWorker {
  static #shared: DiskWorker | null = null;
  /** Why a worker could not start, or never answered (its script did not load): the page does not try again. */
  static #broken: unknown = null;

  /**
   * The running worker, or a new one. Throws where the page may not start it (another origin's page, or a
   * script that did not load before).
   */
  static acquire(): DiskWorker {
    if (DiskWorker.#broken) throw DiskWorker.#broken;
    let shared = DiskWorker.#shared;
    if (!shared || shared.#gone) {
      try {
        shared = DiskWorker.#shared = new DiskWorker();
      } catch (error) {
        DiskWorker.#broken = error;
        throw error;
      }
    }
    shared.#users += 1;
    return shared;
  }

  readonly #worker: Worker;
  /** Each file's request under way, by file: a file sends one at a time. */
  readonly #waiting = new Map<number, { resolve(written?: ArrayBuffer): void; reject(error: unknown): void }>();
  #users = 0;
  #files = 0;
  #answered = false;
  /** Buffers written, kept to fill again. */
  #spares: ArrayBuffer[] = [];
  /** Why the worker is gone (it failed): requests fail at once. */
  #gone: Error | null = null;

  private constructor() {
    this.#worker = new Worker(new URL("./disk-worker.js", import.meta.url), { name: "rendezvous disk" });
    this.#worker.onmessage = ({ data }: MessageEvent<DiskReply>) => {
      this.#answered = true;
      const waiting = this.#waiting.get(data.file);
      this.#waiting.delete(data.file);
      if (data.ok) waiting?.resolve(data.written);
      else waiting?.reject(new DOMException(data.message, data.name));
    };
    // A script that did not load, or a worker that crashed: every file open through it is lost.
    this.#worker.onerror = (event) => {
      event.preventDefault();
      const error = new Error(`the disk worker failed (${event.message || "it did not start"})`);
      if (!this.#answered) DiskWorker.#broken = error;
      this.#end(error);
    };
  }

  /** A number for a new file's requests. */
  newFile(): number {
    this.#files += 1;
    return this.#files;
  }

  ask(request: DiskRequest, transfer: Transferable[]): Promise<ArrayBuffer | undefined> {
    if (this.#gone) return Promise.reject(this.#gone);
    return new Promise((resolve, reject) => {
      this.#waiting.set(request.file, { resolve, reject });
      this.#worker.postMessage(request, transfer);
    });
  }

  /** Keeps a written buffer to fill again, if there is room. */
  keep(buffer: ArrayBuffer): void {
    if (this.#spares.length < SPARES) this.#spares.push(buffer);
  }

  /** A kept buffer of `bytes`, if there is one. */
  spare(bytes: number): Uint8Array<ArrayBuffer> | null {
    const at = this.#spares.findIndex((buffer) => buffer.byteLength === bytes);
    const [buffer] = at === -1 ? [] : this.#spares.splice(at, 1);
    return buffer ? new Uint8Array(buffer) : null;
  }

  /** A file is done with the worker; after the last one, the worker keeps no buffers. */
  release(): void {
    this.#users -= 1;
    if (this.#users === 0) this.#spares = [];
  }

  #end(why: Error): void {
    if (this.#gone) return;
    this.#gone = why;
    this.#spares = [];
    this.#worker.terminate();
    for (const waiting of this.#waiting.values()) waiting.reject(why);
    this.#waiting.clear();
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
 * lives holds its lock (see `incoming`). A file's age says nothing: one
 * written through `createWritable` keeps its creation time until it closes,
 * and an open tab may offer a download for days.
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
