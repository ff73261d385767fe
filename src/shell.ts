/**
 * A thin shell around the platform's Durable Object handlers, as partyserver's
 * Server is around its hooks, so that the room (src/room.ts) holds policy
 * only. The shell owns:
 *
 * - **the error boundary**: every handler catches what it did not expect,
 *   logs one structured line (`{"event":"internal-error",…}`: the handler and
 *   the error's name and message, never a frame), and answers what it can: an
 *   `error` frame with code `internal` to a message, a refusal with close 1011
 *   to an upgrade;
 * - **transactions**: `transact` runs a change as one SQLite transaction, and
 *   the frames it sends and the sockets it accepts or closes take effect only
 *   once it commits. A change that throws leaves storage as it was and has
 *   told nobody anything, so no peer is ever half-removed; the room then
 *   reloads its memory from storage (`onFailure`);
 * - **quiet close**: a close event with 1005, 1006 or 1015 (codes that only
 *   describe a close) is not answered with a close frame;
 * - **attachments**: which peer and connection a socket speaks for, and its
 *   read receipts, read once per socket per wake through one cache;
 * - **read receipts** (src/receipts.ts): every frame sent is counted, a
 *   receipt is asked for now and then, and a socket that is not being read is
 *   closed (4009) and reported as disconnected instead of being sent more.
 */
import { DurableObject } from "cloudflare:workers";
import * as v from "valibot";
import type { Env } from "./config";
import { newNonce } from "./ids";
import { utf8Length } from "./limits";
import { CloseCode, type ErrorCode, errorFrame, type ServerMessage } from "./protocol";
import { asked, charge, confirm, isAskDue, newReceipt, Receipt } from "./receipts";

/** What a hibernatable socket remembers about itself across hibernation. */
const Attachment = v.object({ peer: v.string(), conn: v.string(), receipt: v.optional(Receipt, newReceipt) });
export type Attachment = v.InferOutput<typeof Attachment>;

export type Handler = "start" | "fetch" | "webSocketMessage" | "webSocketClose" | "webSocketError" | "alarm" | "effect";

/** Close 1011: the server failed. */
const INTERNAL_ERROR = 1011;

export abstract class Shell extends DurableObject<Env> {
  /** What the running transaction will do once it commits; null outside one. */
  #effects: (() => void)[] | null = null;
  /**
   * Sockets whose receipt the running transaction changed, with the receipt as
   * it was before: written once it commits, put back if it rolls back.
   */
  readonly #changed = new Map<WebSocket, { receipt: Receipt; notReading: boolean }>();

  /** Answers an upgrade request (with 101 in every case: refusals are frames). */
  protected abstract onRequest(request: Request): Promise<Response>;
  protected abstract onMessage(socket: WebSocket, attachment: Attachment, data: string | ArrayBuffer): Promise<void>;
  /** A socket closed or failed. */
  protected abstract onDisconnect(attachment: Attachment): void;
  protected abstract onAlarm(): void;
  /** A handler failed and its transaction rolled back: bring memory back in line with storage. */
  protected abstract onFailure(handler: Handler): void;

  override async fetch(request: Request): Promise<Response> {
    try {
      return await this.onRequest(request);
    } catch (error) {
      this.#failed("fetch", error);
      return refuse("internal", "the server failed to admit you; try again", INTERNAL_ERROR);
    }
  }

  override async webSocketMessage(socket: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const attachment = attachmentOf(socket);
    if (!attachment) return;
    try {
      await this.onMessage(socket, attachment, data);
    } catch (error) {
      this.#failed("webSocketMessage", error);
      sendNow(socket, errorFrame("internal", "the server failed while handling this message; it changed nothing"));
    }
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
    // Complete the closing handshake (hibernatable sockets do not reply on their own),
    // unless there is no handshake to complete.
    if (!ABNORMAL_CLOSE_CODES.has(code)) closeSocket(socket, isSendableCloseCode(code) ? code : 1000, reason);
    this.#disconnected("webSocketClose", socket);
  }

  override async webSocketError(socket: WebSocket): Promise<void> {
    this.#disconnected("webSocketError", socket);
  }

  override async alarm(): Promise<void> {
    this.guard("alarm", () => this.onAlarm());
  }

  /** Runs `body` behind the error boundary, for handlers with nobody to answer. */
  protected guard(handler: Handler, body: () => void): void {
    try {
      body();
    } catch (error) {
      this.#failed(handler, error);
    }
  }

  /**
   * Runs `change` as one transaction; what it sends, accepts or closes happens
   * after it commits, in order, and not at all if it throws. A nested call is
   * part of the outer transaction.
   */
  protected transact<T>(change: () => T): T {
    if (this.#effects) return change();
    const effects: (() => void)[] = [];
    this.#effects = effects;
    let result: T;
    try {
      result = this.ctx.storage.transactionSync(change);
    } catch (error) {
      // Nothing was sent: no receipt may count it, and no socket may stay written off.
      this.#restoreReceipts();
      throw error;
    } finally {
      this.#effects = null;
    }
    for (const effect of effects) {
      try {
        effect();
      } catch (error) {
        // One socket's failure (it died meanwhile, say) must not cost the others their frames.
        log("effect", error);
      }
    }
    for (const socket of this.#changed.keys()) saveAttachment(socket);
    this.#changed.clear();
    return result;
  }

  /** Does `effect` once the running transaction commits (at once outside one). */
  protected afterCommit(effect: () => void): void {
    if (this.#effects) this.#effects.push(effect);
    else effect();
  }

  /**
   * Sends a frame once the running transaction commits, counting it against
   * the socket's unread bytes and asking for a receipt when one is due. False
   * when the socket is not being read: then nothing is sent, the socket is
   * closed with 4009 and reported disconnected.
   */
  protected send(socket: WebSocket, message: ServerMessage | string): boolean {
    const frame = typeof message === "string" ? message : JSON.stringify(message);
    const attachment = attachmentOf(socket);
    if (!attachment) {
      this.afterCommit(() => socket.send(frame));
      return true;
    }
    if (notReading.has(socket)) return false;
    this.#touch(socket, attachment);
    if (!charge(attachment.receipt, utf8Length(frame))) {
      this.#notReading(socket, attachment);
      return false;
    }
    this.afterCommit(() => socket.send(frame));
    this.#askIfDue(socket, attachment);
    this.#saveLater(socket);
    return true;
  }

  /** Applies a client's `ack`; false when it answers no outstanding request. */
  protected acknowledge(socket: WebSocket, attachment: Attachment, nonce: string): boolean {
    this.#touch(socket, attachment);
    if (!confirm(attachment.receipt, nonce)) return false;
    this.#askIfDue(socket, attachment);
    this.#saveLater(socket);
    return true;
  }

  /** Remembers a socket's receipt as it was before the running transaction first changed it. */
  #touch(socket: WebSocket, attachment: Attachment): void {
    if (this.#effects && !this.#changed.has(socket)) {
      this.#changed.set(socket, { receipt: { ...attachment.receipt }, notReading: notReading.has(socket) });
    }
  }

  #restoreReceipts(): void {
    for (const [socket, before] of this.#changed) {
      const attachment = attachments.get(socket);
      if (attachment) attachment.receipt = before.receipt;
      if (!before.notReading) notReading.delete(socket);
    }
    this.#changed.clear();
  }

  #askIfDue(socket: WebSocket, attachment: Attachment): void {
    if (!isAskDue(attachment.receipt)) return;
    const nonce = newNonce();
    const request = JSON.stringify({ type: "ack-request", nonce } satisfies ServerMessage);
    asked(attachment.receipt, nonce, utf8Length(request));
    this.afterCommit(() => socket.send(request));
  }

  #notReading(socket: WebSocket, attachment: Attachment): void {
    notReading.add(socket);
    const { sent, confirmed } = attachment.receipt;
    this.afterCommit(() => console.warn(JSON.stringify({ event: "not-reading", unread: sent - confirmed })));
    this.close(socket, CloseCode.notReading, "not reading");
    this.onDisconnect(attachment);
  }

  /** Inside a transaction the socket was touched already, and is written when it commits. */
  #saveLater(socket: WebSocket): void {
    if (!this.#effects) saveAttachment(socket);
  }

  protected close(socket: WebSocket, code: number, reason: string): void {
    this.afterCommit(() => closeSocket(socket, code, reason));
  }

  /** Accepts a socket as hibernatable, tagged with its connection, and remembers its attachment. */
  protected accept(socket: WebSocket, peer: string, conn: string): void {
    // Cached at once: what this transaction sends the socket is counted in its receipt.
    const attachment: Attachment = { peer, conn, receipt: newReceipt() };
    attachments.set(socket, attachment);
    this.afterCommit(() => {
      this.ctx.acceptWebSocket(socket, [conn]);
      socket.serializeAttachment(attachment);
    });
  }

  /** The open sockets tagged with a connection. */
  protected openSockets(conn: string): WebSocket[] {
    return this.ctx.getWebSockets(conn).filter((socket) => socket.readyState === WebSocket.OPEN);
  }

  /** The connections of every open socket, for reconciling storage after a wake. */
  protected liveConnections(): Set<string> {
    const live = new Set<string>();
    for (const socket of this.ctx.getWebSockets()) {
      const attachment = attachmentOf(socket);
      if (attachment && socket.readyState === WebSocket.OPEN) live.add(attachment.conn);
    }
    return live;
  }

  #disconnected(handler: Handler, socket: WebSocket): void {
    const attachment = attachmentOf(socket);
    if (attachment) this.guard(handler, () => this.onDisconnect(attachment));
  }

  #failed(handler: Handler, error: unknown): void {
    log(handler, error);
    try {
      this.onFailure(handler);
    } catch (again) {
      // Storage itself is failing: the next event tries again from scratch.
      log(handler, again);
    }
  }
}

/**
 * One structured line per unexpected error: the handler, the error's name and
 * message (errors here come from the runtime or from this code, and neither
 * quotes frames, SDPs or tokens), and where it was thrown.
 */
function log(handler: Handler, error: unknown): void {
  const { name, message, stack } =
    error instanceof Error ? error : { name: "NonError", message: String(error), stack: undefined };
  const at = stack?.split("\n")[1]?.trim();
  console.error(JSON.stringify({ event: "internal-error", handler, error: name, message: message.slice(0, 200), at }));
}

/** Attachments are read once per socket per wake, not once per frame. */
const attachments = new WeakMap<WebSocket, Attachment | null>();

function attachmentOf(socket: WebSocket): Attachment | null {
  let attachment = attachments.get(socket);
  if (attachment === undefined) {
    const result = v.safeParse(Attachment, socket.deserializeAttachment());
    attachment = result.success ? result.output : null;
    attachments.set(socket, attachment);
  }
  return attachment;
}

/** Sockets closed for not reading: nothing more is sent them. */
const notReading = new WeakSet<WebSocket>();

function saveAttachment(socket: WebSocket): void {
  const attachment = attachments.get(socket);
  try {
    if (attachment) socket.serializeAttachment(attachment);
  } catch {
    // The socket is gone; so is what it would have remembered.
  }
}

/** 1005, 1006 and 1015 say the connection ended without a closing handshake: no close frame answers them. */
const ABNORMAL_CLOSE_CODES: ReadonlySet<number> = new Set([1005, 1006, 1015]);

/** Codes a close frame may carry. */
function isSendableCloseCode(code: number): boolean {
  return (
    code === 1000 || (code >= 1001 && code <= 1014 && !ABNORMAL_CLOSE_CODES.has(code)) || (code >= 3000 && code <= 4999)
  );
}

function sendNow(socket: WebSocket, message: ServerMessage): void {
  try {
    socket.send(JSON.stringify(message));
  } catch {
    // The socket is gone: nobody to tell.
  }
}

/** Closing can race the peer's own close; a socket already closing needs nothing more. */
function closeSocket(socket: WebSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closed.
  }
}

/**
 * Refuses an upgrade after accepting it, so the client sees the error frame
 * and the close code (a refused upgrade shows a browser neither). The socket
 * is not hibernatable: it never needs to outlive this request.
 */
export function refuse(code: ErrorCode, message: string, closeCode: number): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  server.send(JSON.stringify(errorFrame(code, message)));
  server.close(closeCode, code);
  return new Response(null, { status: 101, webSocket: client });
}
