/**
 * The disk worker: appends a received file's blocks to its file in the
 * Origin Private File System through a sync access handle, which only a
 * worker may open. In Chromium that writes in this thread, where
 * `createWritable` copies each block into a Blob and writes it from the
 * browser process: about a tenth of the CPU per block
 * (bench/results/2026-12-02-files-ablation/opfs.ts). One worker per file;
 * the page (disk.ts) sends one request at a time and ends the worker after
 * `close`.
 */
import type { DiskReply, DiskRequest } from "./disk-messages";

declare const self: DedicatedWorkerGlobalScope;

let file: FileSystemSyncAccessHandle | undefined;
let at = 0;
let queue = Promise.resolve();

async function run(request: DiskRequest): Promise<ArrayBuffer | undefined> {
  switch (request.op) {
    case "open": {
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle("rendezvous-incoming");
      file = await (await dir.getFileHandle(request.name)).createSyncAccessHandle();
      return;
    }
    case "write": {
      if (!file) throw new Error("no file is open");
      const written = file.write(request.bytes, { at });
      at += written;
      // A short write is a disk that filled up: the rest of the block is lost, and with it the file.
      if (written !== request.bytes.byteLength) throw new DOMException("the disk is full", "QuotaExceededError");
      return request.bytes;
    }
    case "close":
      file?.flush();
      file?.close();
      file = undefined;
  }
}

const reply = (answer: DiskReply, transfer: Transferable[] = []) => self.postMessage(answer, transfer);

// Only this origin's pages can start this worker or message it: its requests are the page's own.
self.onmessage = ({ data }: MessageEvent<DiskRequest>) => {
  queue = queue.then(() =>
    run(data).then(
      (written) => (written ? reply({ ok: true, written }, [written]) : reply({ ok: true })),
      (error: unknown) =>
        reply(
          error instanceof Error
            ? { ok: false, name: error.name, message: error.message }
            : { ok: false, name: "Error", message: String(error) },
        ),
    ),
  );
};
