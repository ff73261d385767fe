/**
 * The benchmark's ceiling: a relay Durable Object with no logic. It parses a
 * frame, looks up `to`, adds `from` and sends it on: what the runtime costs
 * before any protocol rule. It speaks just enough of Rendezvous' wire shape
 * (welcome, peer-joined) for the same load generator to drive it.
 */
import { DurableObject } from "cloudflare:workers";

interface Env {
  RELAY: DurableObjectNamespace;
}

export class Relay extends DurableObject<Env> {
  override async fetch(): Promise<Response> {
    const { 0: client, 1: server } = new WebSocketPair();
    const id = crypto.randomUUID();
    const peers = this.ctx.getWebSockets().map((socket) => String(socket.deserializeAttachment()));
    this.ctx.acceptWebSocket(server, [id]);
    server.serializeAttachment(id);
    server.send(JSON.stringify({ type: "welcome", id, peers: peers.map((peer) => ({ id: peer, name: null })) }));
    const joined = JSON.stringify({ type: "peer-joined", peer: { id, name: null } });
    for (const socket of this.ctx.getWebSockets()) if (socket !== server) socket.send(joined);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(socket: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const message: { to: string; from?: string } = JSON.parse(String(data));
    const [target] = this.ctx.getWebSockets(message.to);
    message.from = String(socket.deserializeAttachment());
    target?.send(JSON.stringify(message));
  }
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    const room = new URL(request.url).pathname.split("/")[2] ?? "";
    return env.RELAY.get(env.RELAY.idFromName(room)).fetch(request);
  },
} satisfies ExportedHandler<Env>;
