/**
 * The disk worker: appends received files' blocks to their files in the
 * Origin Private File System through sync access handles, which only a
 * worker may open. In Chromium that writes in this thread, where
 * `createWritable` copies each block into a Blob and writes it from the
 * browser process: about a tenth of the CPU per block
 * (bench/results/2026-12-02-files-ablation/opfs.ts). One worker serves every
 * file its page has open (disk.ts), one request at a time.
 */
import { type DiskReply, type DiskRequest, INCOMING } from "./disk-messages";

declare const self: DedicatedWorkerGlobalScope;

/** Open files by their page's number for them, and where each next write goes. */
const files = new Map<number, { handle: FileSystemSyncAccessHandle; at: number }>();
let queue = Promise.resolve();

async function run(request: DiskRequest): Promise<ArrayBuffer | undefined> {
  switch (request.op) {
    case "open": {
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle(INCOMING);
      const handle = await (await dir.getFileHandle(request.name)).createSyncAccessHandle();
      files.set(request.file, { handle, at: 0 });
      return;
    }
    case "write": {
      const file = files.get(request.file);
      if (!file) throw new Error("no such file is open");
      const written = file.handle.write(request.bytes, { at: file.at });
      file.at += written;
      // A short write is a disk that filled up: the rest of the block is lost, and with it the file.
      if (written !== request.bytes.byteLength) throw new DOMException("the disk is full", "QuotaExceededError");
      return request.bytes;
    }
    case "close": {
      // No flush: the page can read what was written once the handle closes. Syncing it to the device guards only
      // against the machine going down, which takes the page and its download with it; it held the verdict back
      // by about 2 ms per MiB here.
      files.get(request.file)?.handle.close();
      files.delete(request.file);
    }
  }
}

/** Done: a write hands its buffer back, transferred, for the page to fill again. */
function done(file: number, written: ArrayBuffer | undefined): void {
  const answer: DiskReply = written ? { file, ok: true, written } : { file, ok: true };
  self.postMessage(answer, written ? [written] : []);
}

function failed(file: number, error: unknown): void {
  const answer: DiskReply =
    error instanceof Error
      ? { file, ok: false, name: error.name, message: error.message }
      : { file, ok: false, name: "Error", message: String(error) };
  self.postMessage(answer);
}

// Only this origin's pages can start this worker or message it: its requests are the page's own.
self.onmessage = ({ data }: MessageEvent<DiskRequest>) => {
  queue = queue
    .then(() =>
      run(data).then(
        (written) => done(data.file, written),
        (error: unknown) => failed(data.file, error),
      ),
    )
    // An answer that could not be sent must not stop the answers to every later request.
    .catch((error: unknown) => console.error("disk worker", error));
};
