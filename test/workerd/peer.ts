/**
 * A scripted peer for protocol tests: a real WebSocket through the Worker,
 * with an inbox that tests await frame by frame.
 */
import { env, SELF } from "cloudflare:test";
import * as v from "valibot";
import { expect } from "vitest";
import { type ServerMessage, ServerMessage as ServerMessageSchema } from "../../src/protocol";

type Welcome = Extract<ServerMessage, { type: "welcome" }>;
type Closed = { code: number; reason: string };

const WAIT_MS = 5_000;
/**
 * The barrier frame: `done` to an id no peer can have (ids are base64url), so
 * the room answers unknown-peer. Junk frames never get that answer: only valid
 * messages reach the peer lookup.
 */
const BARRIER = JSON.stringify({ type: "done", to: "~barrier" });
const isBarrierReply = (frame: ServerMessage) =>
  frame.type === "error" && frame.code === "unknown-peer" && frame.ref === "done";

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface JoinOptions {
  name?: string;
  resume?: string;
  origin?: string;
  /** The client address, as Cloudflare's edge would set it (the Worker forwards it to the room). */
  ip?: string;
}

export function roomStub(room: string): DurableObjectStub {
  return env.ROOM.get(env.ROOM.idFromName(room));
}

export async function upgrade(room: string, options: JoinOptions = {}): Promise<Response> {
  const url = new URL(`http://rendezvous.test/r/${room}/ws`);
  if (options.name !== undefined) url.searchParams.set("name", options.name);
  if (options.resume !== undefined) url.searchParams.set("resume", options.resume);
  const headers: Record<string, string> = { Upgrade: "websocket" };
  if (options.origin !== undefined) headers.Origin = options.origin;
  if (options.ip !== undefined) headers["CF-Connecting-IP"] = options.ip;
  return SELF.fetch(url, { headers });
}

export class Peer {
  readonly #inbox: ServerMessage[] = [];
  /** Frames that failed the protocol schema: any one fails the next read. */
  readonly #invalid: string[] = [];
  #wake: (() => void) | null = null;
  #closed: Closed | null = null;
  /** Heartbeat answers received; they are not protocol frames. */
  pongs = 0;
  /** Every other text frame as sent, unparsed: what the schema strips (a leaked field) is still here. */
  readonly raw: string[] = [];
  readonly closed: Promise<Closed>;

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        this.#closed = { code: event.code, reason: event.reason };
        this.#wake?.();
        resolve(this.#closed);
      });
    });
    socket.addEventListener("message", (event) => {
      const text = String(event.data);
      if (text === "pong") this.pongs += 1;
      else {
        this.raw.push(text);
        const parsed = v.safeParse(ServerMessageSchema, parseJson(text));
        if (parsed.success) this.#inbox.push(parsed.output);
        else this.#invalid.push(text);
      }
      this.#wake?.();
    });
    socket.accept();
  }

  /** Opens a socket without waiting for anything. */
  static async open(room: string, options: JoinOptions = {}): Promise<Peer> {
    return Peer.of(await upgrade(room, options));
  }

  /** The peer on an upgrade's answer (from the Worker, or straight from a room). */
  static of(response: Response): Peer {
    expect(response.status).toBe(101);
    if (!response.webSocket) throw new Error("101 without a socket");
    return new Peer(response.webSocket);
  }

  /** Joins and returns the peer with its welcome. */
  static async join(room: string, options: JoinOptions = {}): Promise<Peer & { welcome: Welcome }> {
    const peer = await Peer.open(room, options);
    const welcome = await peer.next("welcome");
    return Object.assign(peer, { welcome });
  }

  /** The next frame; with `type`, asserts that the next frame has that type. */
  async next<T extends ServerMessage["type"]>(type?: T): Promise<Extract<ServerMessage, { type: T }>> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      if (this.#invalid.length > 0) throw new Error(`server sent a frame outside the protocol: ${this.#invalid[0]}`);
      const frame = this.#inbox.shift();
      if (frame) {
        if (type !== undefined && frame.type !== type) {
          throw new Error(`expected ${type}, got ${JSON.stringify(frame)}`);
        }
        // Checked just above: the frame's type is `type` (or any type when none was asked for).
        return frame as Extract<ServerMessage, { type: T }>;
      }
      if (this.#closed) throw new Error(`socket closed (${this.#closed.code}) while waiting for ${type ?? "a frame"}`);
      if (Date.now() > deadline)
        throw new Error(`no frame within ${WAIT_MS} ms while waiting for ${type ?? "a frame"}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, deadline - Date.now() + 1);
      });
    }
  }

  /** Everything the room sends this peer up to a barrier, once the room has handled all it was sent. */
  async drain(): Promise<ServerMessage[]> {
    this.socket.send(BARRIER);
    const frames: ServerMessage[] = [];
    for (;;) {
      const frame = await this.next();
      if (isBarrierReply(frame)) return frames;
      frames.push(frame);
    }
  }

  /** Asserts that nothing is waiting for this peer. */
  async expectNothing(): Promise<void> {
    expect(await this.drain()).toEqual([]);
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The socket's close, asserting its code. */
  async expectClose(code: number): Promise<void> {
    expect((await this.closed).code).toBe(code);
  }

  close(code = 1000): void {
    this.socket.close(code);
  }
}
