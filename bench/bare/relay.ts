/**
 * The mesh-formation baselines' server: a bare WebSocket relay in Node that
 * also serves the minimal mesh page. No holding, no resume, no limits: the
 * floor our signaling can approach. With `serial`, it admits one newcomer at
 * a time, the next only once the last says it is connected to everyone (the
 * classic tutorial design).
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { type WebSocket, WebSocketServer } from "ws";

const PAGE = readFileSync(new URL("mesh.html", import.meta.url));
const SCRIPT = readFileSync(new URL("mesh.js", import.meta.url));

export interface BareRelay {
  url: string;
  close(): Promise<void>;
}

export async function startBareRelay(): Promise<BareRelay> {
  const http: Server = createServer((request, response) => {
    const script = request.url?.startsWith("/mesh.js");
    response.writeHead(200, { "content-type": script ? "text/javascript" : "text/html" });
    response.end(script ? SCRIPT : PAGE);
  });
  const rooms = new Map<string, Room>();
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (socket, request) => {
    const url = new URL(request.url ?? "/", "http://relay");
    const name = url.searchParams.get("room") ?? "";
    let room = rooms.get(name);
    if (!room) {
      room = new Room(url.searchParams.get("mode") === "serial");
      rooms.set(name, room);
    }
    room.arrive(socket);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const address = http.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.close(() => resolve());
      }),
  };
}

class Room {
  readonly #peers = new Map<string, WebSocket>();
  readonly #waiting: WebSocket[] = [];
  #onboarding = false;
  #next = 0;
  readonly #serial: boolean;

  constructor(serial: boolean) {
    this.#serial = serial;
  }

  arrive(socket: WebSocket): void {
    if (this.#serial && this.#onboarding) this.#waiting.push(socket);
    else this.#admit(socket);
  }

  #admit(socket: WebSocket): void {
    this.#onboarding = true;
    const id = `p${this.#next++}`;
    socket.send(JSON.stringify({ type: "welcome", id, peers: [...this.#peers.keys()] }));
    for (const other of this.#peers.values()) other.send(JSON.stringify({ type: "joined", id }));
    this.#peers.set(id, socket);
    socket.on("message", (data) => {
      const message = JSON.parse(String(data));
      if (message.type === "onboarded") return this.#onboarded();
      message.from = id;
      this.#peers.get(message.to)?.send(JSON.stringify(message));
    });
    socket.on("close", () => this.#peers.delete(id));
    if (!this.#serial) this.#onboarding = false;
  }

  #onboarded(): void {
    const next = this.#waiting.shift();
    this.#onboarding = false;
    if (next) this.#admit(next);
  }
}
