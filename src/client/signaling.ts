/**
 * The signaling socket: one WebSocket to the room that survives network blips
 * and server restarts. It reconnects with exponential backoff and jitter,
 * resuming with the last resume token, and abandons a socket whose `pong`
 * stops coming.
 *
 * States: connecting → connected ⇄ reconnecting → closed. `connected` is
 * entered only once a `welcome` has been handed to the owner.
 *
 * It answers the room's `ack-request` at once: the room stops sending to a
 * socket that does not (close 4009), and this then resumes like after a blip.
 */
import * as v from "valibot";
import type { ClientMessage } from "../inbound";
import { CloseCode, type ErrorCode, ServerMessage } from "../protocol";
import { parseJson } from "./json";

export type SignalingState = "connecting" | "connected" | "reconnecting" | "closed";
export type Welcome = Extract<ServerMessage, { type: "welcome" }>;
/** What the room says once welcomed, errors apart: the roster's changes and relayed negotiation. */
export type RoomFrame = Exclude<ServerMessage, { type: "welcome" | "error" | "ack-request" }>;

export interface SignalingEvents {
  welcome(welcome: Welcome): void;
  message(message: RoomFrame): void;
  state(state: SignalingState): void;
  /** A refusal or a protocol error the server reported; `replaced`: another connection took over our identity. */
  error(code: ErrorCode | "protocol" | "replaced", message: string): void;
}

const PING_EVERY_MS = 10_000;
const PONG_WITHIN_MS = 5_000;
/** A socket that opened but says nothing is as dead as one that never opened. */
const WELCOME_WITHIN_MS = 10_000;
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 10_000;

/** Closes after which reconnecting cannot help. (1000 is final only after our own leave.) */
const FINAL_CLOSES: ReadonlySet<number> = new Set([
  CloseCode.roomFull,
  CloseCode.replaced,
  CloseCode.badName,
  CloseCode.flooding,
]);

export class Signaling {
  #socket: WebSocket | null = null;
  #state: SignalingState = "connecting";
  #resume: string | null = null;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  #welcomeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Left while not welcomed: until then (epoch ms), the socket in flight exists only to say `leave`. */
  #leaveBy = 0;
  /** The current socket opened: the room may have taken its token. */
  #opened = false;

  constructor(
    private readonly url: (resume: string | null) => string,
    private readonly on: SignalingEvents,
  ) {
    this.#connect();
  }

  get state(): SignalingState {
    return this.#state;
  }

  /** Sends when connected; otherwise the frame is dropped (negotiations re-send after a resume). */
  send(message: ClientMessage): boolean {
    if (this.#state !== "connected" || this.#socket?.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }

  /**
   * Leaves the room for good. While signaling is down, the others would wait
   * out the grace period: so the resume in flight, or one started now, says
   * `leave` once welcomed. One socket at a time: two would present the same
   * token, the first to arrive would rotate it, and the other would join as a
   * newcomer, a phantom. Gives up after a while if the room cannot be reached.
   */
  leave(): void {
    if (this.#state === "closed") return;
    const socket = this.#socket;
    const said = this.send({ type: "leave" });
    this.#finish();
    if (said) socket?.close(CloseCode.left);
    else if (socket || this.#resume) {
      this.#leaveBy = Date.now() + WELCOME_WITHIN_MS;
      if (!socket) this.#connect();
    }
  }

  #connect(): void {
    const socket = new WebSocket(this.url(this.#resume));
    this.#socket = socket;
    this.#opened = false;
    socket.onopen = () => {
      this.#opened = true;
    };
    socket.onmessage = (event) => this.#receive(socket, event.data);
    socket.onclose = (event) => this.#closed(socket, event.code);
    this.#welcomeTimer = setTimeout(() => this.#abandon(socket), WELCOME_WITHIN_MS);
  }

  #receive(socket: WebSocket, data: unknown): void {
    if (socket !== this.#socket) return;
    if (data === "pong") {
      clearTimeout(this.#pongTimer);
      return;
    }
    const message = parseFrame(data);
    if (this.#leaveBy) {
      // Welcomed (resumed, or as a newcomer if our identity had expired): leave at once.
      if (message?.type === "welcome") {
        socket.send(JSON.stringify({ type: "leave" }));
        socket.close(CloseCode.left);
      }
      return;
    }
    if (!message) {
      this.on.error("protocol", "the server sent a frame outside the protocol");
      return;
    }
    if (message.type === "welcome") {
      clearTimeout(this.#welcomeTimer);
      this.#resume = message.resume;
      this.#attempt = 0;
      this.#startHeartbeat(socket);
      // The owner applies the welcome before anyone hears "connected".
      this.#state = "connected";
      this.on.welcome(message);
      this.on.state("connected");
    } else if (message.type === "error") {
      this.on.error(message.code, message.message);
    } else if (message.type === "ack-request") {
      this.send({ type: "ack", nonce: message.nonce });
    } else {
      this.on.message(message);
    }
  }

  #closed(socket: WebSocket, code: number): void {
    if (socket !== this.#socket) return;
    clearTimeout(this.#welcomeTimer);
    this.#stopHeartbeat();
    this.#socket = null;
    if (this.#leaveBy) {
      // A socket that never opened never reached the room: its token is still good to leave with.
      // (Without a token there is nothing to leave: a first join that failed joined nothing.)
      if (!this.#opened && this.#resume && Date.now() < this.#leaveBy) {
        this.#retryTimer = setTimeout(() => this.#connect(), BACKOFF_FIRST_MS);
      }
      return;
    }
    if (this.#state === "closed") return;
    if (code === CloseCode.replaced) {
      this.on.error("replaced", "another connection resumed this peer: the room is open elsewhere");
    }
    if (FINAL_CLOSES.has(code)) {
      this.#finish();
      return;
    }
    this.#setState("reconnecting");
    // Exponential backoff with full jitter: a restarted server is not stampeded.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.#attempt);
    this.#attempt += 1;
    this.#retryTimer = setTimeout(() => this.#connect(), ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  #startHeartbeat(socket: WebSocket): void {
    this.#stopHeartbeat();
    this.#pingTimer = setInterval(() => {
      socket.send("ping");
      // No pong in time: the socket is dead even if no close event says so.
      this.#pongTimer = setTimeout(() => this.#abandon(socket), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#pingTimer);
    clearTimeout(this.#pongTimer);
  }

  #abandon(socket: WebSocket): void {
    socket.onclose = null;
    socket.close();
    this.#closed(socket, 1006);
  }

  /** Closed for the owner. A socket still waiting for its welcome keeps its deadline (see `leave`). */
  #finish(): void {
    clearTimeout(this.#retryTimer);
    this.#stopHeartbeat();
    this.#setState("closed");
  }

  #setState(state: SignalingState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.on.state(state);
  }
}

/** A frame from the server, parsed by the protocol's schema; null when it is not one. */
function parseFrame(data: unknown): ServerMessage | null {
  const result = v.safeParse(ServerMessage, parseJson(data));
  return result.success ? result.output : null;
}
