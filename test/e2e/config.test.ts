/**
 * Configuration reaches the room: a real `wrangler dev` with its variables
 * overridden, driven by plain WebSocket clients (no browser needed). The
 * short grace period also lets the room's real alarm fire.
 */
import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerMessage } from "../../src/protocol";
import { DevServer } from "./server";

const ICE = [{ urls: "turn:turn.example.test:3478", username: "u", credential: "c" }];

class Client {
  readonly frames: ServerMessage[] = [];
  readonly closed: Promise<number>;
  #waiters: (() => void)[] = [];

  constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      this.frames.push(v.parse(ServerMessage, JSON.parse(String(event.data))));
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.addEventListener("close", (event) => resolve(event.code)));
  }

  /** The first frame of a type, waiting up to `ms` for it. */
  async frame<T extends ServerMessage["type"]>(type: T, ms = 10_000): Promise<Extract<ServerMessage, { type: T }>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find((frame): frame is Extract<ServerMessage, { type: T }> => frame.type === type);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, deadline - Date.now());
      });
    }
  }
}

describe("configuration through wrangler dev", () => {
  let server: DevServer;
  const join = (room: string) => new Client(new WebSocket(`${server.url.replace(/^http/, "ws")}/r/${room}/ws`));

  beforeAll(async () => {
    server = await DevServer.start({
      vars: { MAX_PEERS: "2", RESUME_GRACE_SECONDS: "1", ICE_SERVERS: JSON.stringify(ICE) },
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("hands out the configured ICE servers and capacity", async () => {
    const a = join("config-ice");
    expect(await a.frame("welcome")).toMatchObject({ iceServers: ICE, maxPeers: 2 });
    a.socket.close();
  });

  it("fills a room at MAX_PEERS", async () => {
    const a = join("config-full");
    await a.frame("welcome");
    const b = join("config-full");
    await b.frame("welcome");
    const c = join("config-full");
    expect(await c.frame("error")).toMatchObject({ code: "room-full" });
    expect(await c.closed).toBe(4001);
    a.socket.close();
    b.socket.close();
  });

  it("expires a disconnected peer after RESUME_GRACE_SECONDS, by the room's alarm", async () => {
    const a = join("config-grace");
    const welcome = await a.frame("welcome");
    const b = join("config-grace");
    await b.frame("welcome");
    await a.frame("peer-joined");
    const closedAt = Date.now();
    a.socket.close();
    expect(await b.frame("peer-left", 10_000)).toEqual({ type: "peer-left", id: welcome.id });
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(1_000);
    b.socket.close();
  });
});
