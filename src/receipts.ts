/**
 * Read receipts: how the room knows that a socket is being read.
 *
 * workerd gives a WebSocket no backpressure and no `bufferedAmount`
 * (cloudflare/workerd#988): `send` always succeeds, and whatever the client
 * does not read waits in the runtime's memory. So the room counts the bytes
 * it sends each socket, and once UNREAD_ASK_BYTES of them are unconfirmed it
 * sends `{"type":"ack-request","nonce":…}`, which the client answers with
 * `{"type":"ack","nonce":…}`. A socket delivers in order, so the answer proves
 * that everything sent before the request was read; the nonce is random, so
 * only a client that read the request can answer it.
 *
 * A frame that would leave more than UNREAD_MAX_BYTES unconfirmed is not sent:
 * the socket is not being read, so the shell (src/shell.ts) closes it with 4009
 * and its peer is away, as after any drop. What others send it then is held
 * for it within their shares, and delivered when it resumes.
 *
 * The counts live in the socket's attachment, so hibernation resets nothing.
 */
import * as v from "valibot";

/** Unconfirmed bytes at which the room asks for a receipt: far above any negotiation's. */
export const UNREAD_ASK_BYTES = 256 * 1024;
/** Unconfirmed bytes a socket may have before it counts as not reading. */
export const UNREAD_MAX_BYTES = 2 * 1024 * 1024;

export const Receipt = v.object({
  /** Bytes sent on this socket. */
  sent: v.number(),
  /** Of those, the bytes the client has proven it read. */
  confirmed: v.number(),
  /** The outstanding request's nonce, if one is. */
  nonce: v.nullable(v.string()),
  /** `sent` just after the outstanding request: what its answer confirms. */
  askedAt: v.number(),
});
export type Receipt = v.InferOutput<typeof Receipt>;

export const newReceipt = (): Receipt => ({ sent: 0, confirmed: 0, nonce: null, askedAt: 0 });

/** Counts a frame about to be sent; false (counting nothing) when it would leave too much unread. */
export function charge(receipt: Receipt, bytes: number): boolean {
  if (receipt.sent - receipt.confirmed + bytes > UNREAD_MAX_BYTES) return false;
  receipt.sent += bytes;
  return true;
}

/** Whether a request is due: enough unconfirmed, and none outstanding. */
export function isAskDue(receipt: Receipt): boolean {
  return receipt.nonce === null && receipt.sent - receipt.confirmed >= UNREAD_ASK_BYTES;
}

/** Records a request about to be sent (its own bytes included: the answer confirms them too). */
export function asked(receipt: Receipt, nonce: string, bytes: number): void {
  receipt.sent += bytes;
  receipt.nonce = nonce;
  receipt.askedAt = receipt.sent;
}

/** Applies an answer; false when it does not answer the outstanding request. */
export function confirm(receipt: Receipt, nonce: string): boolean {
  if (receipt.nonce === null || receipt.nonce !== nonce) return false;
  receipt.confirmed = receipt.askedAt;
  receipt.nonce = null;
  return true;
}
