/**
 * The signaling socket: one WebSocket to the room that survives network blips
 * and server restarts. It reconnects with exponential backoff and jitter,
 * resuming with the last resume token, and abandons a socket whose `pong`
 * stops coming.
 *
 * States: connecting → connected ⇄ reconnecting → closed. `connected` is
 * entered only once a `welcome` has been handed to the owner.
 */
import * as v from "valibot";
import { type ClientMessage, CloseCode, type ErrorCode, ServerMessage } from "../protocol";
import { parseJson } from "./json";

export type SignalingState = "connecting" | "connected" | "reconnecting" | "closed";
export type Welcome = Extract<ServerMessage, { type: "welcome" }>;
/** What the room says once welcomed, errors apart: the roster's changes and relayed negotiation. */
export type RoomFrame = Exclude<ServerMessage, { type: "welcome" | "error" }>;

export interface SignalingEvents {
  welcome(welcome: Welcome): void;
  message(message: RoomFrame): void;
  state(state: SignalingState): void;
  /** A refusal or a protocol error the server reported. */
  error(code: ErrorCode | "protocol", message: string): void;
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

  /** Leaves the room for good. */
  leave(): void {
    if (!this.send({ type: "leave" }) && this.#resume) this.#leaveFromAfar(this.#resume);
    this.#socket?.close(CloseCode.left);
    this.#finish();
  }

  /**
   * Signaling is down while we leave: resume on a one-off socket just to say
   * `leave`, or the others would wait out the grace period. Gives up after a
   * while if the room cannot be reached.
   */
  #leaveFromAfar(resume: string): void {
    const socket = new WebSocket(this.url(resume));
    const giveUp = setTimeout(() => socket.close(), WELCOME_WITHIN_MS);
    socket.onmessage = ({ data }) => {
      if (parseFrame(data)?.type === "welcome") socket.send(JSON.stringify({ type: "leave" }));
    };
    socket.onclose = () => clearTimeout(giveUp);
  }

  #connect(): void {
    const socket = new WebSocket(this.url(this.#resume));
    this.#socket = socket;
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
    } else {
      this.on.message(message);
    }
  }

  #closed(socket: WebSocket, code: number): void {
    if (socket !== this.#socket) return;
    clearTimeout(this.#welcomeTimer);
    this.#stopHeartbeat();
    this.#socket = null;
    if (this.#state === "closed") return;
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

  #finish(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#welcomeTimer);
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
