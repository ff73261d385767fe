/**
 * What a page and its disk worker (disk-worker.ts) say to each other: one
 * request at a time, each answered once, in order.
 */
export type DiskRequest =
  /** Opens `rendezvous-incoming/<name>`, which the page has created, for appending. */
  | { op: "open"; name: string }
  /** Appends the bytes; the buffer is transferred, not copied. */
  | { op: "write"; bytes: ArrayBuffer }
  /** Flushes and closes the file, which lets the page read or delete it. */
  | { op: "close" };

/**
 * Done, or the error that stopped it, by name (a full disk is a `QuotaExceededError`). A write's answer hands
 * its buffer back, transferred, for the page to fill again.
 */
export type DiskReply = { ok: true; written?: ArrayBuffer } | { ok: false; name: string; message: string };
