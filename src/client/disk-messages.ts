/**
 * What a page and its disk worker (disk-worker.ts) say to each other. Each
 * request names its file, a number the page gives it; a file has one request
 * under way at a time, answered once.
 */
/** The OPFS directory of received files (and the prefix of the Web Locks that tell whose they are). */
export const INCOMING = "rendezvous-incoming";

export type DiskOp =
  /** Opens `rendezvous-incoming/<name>`, which the page has created, for appending. */
  | { op: "open"; name: string }
  /** Appends the bytes; the buffer is transferred, not copied. */
  | { op: "write"; bytes: ArrayBuffer }
  /** Closes the file, which lets the page read or delete it. */
  | { op: "close" };

export type DiskRequest = DiskOp & { file: number };

/**
 * Done, or the error that stopped it, by name (a full disk is a `QuotaExceededError`). A write's answer hands
 * its buffer back, transferred, for the page to fill again.
 */
export type DiskReply = { file: number } & (
  | { ok: true; written?: ArrayBuffer }
  | { ok: false; name: string; message: string }
);
