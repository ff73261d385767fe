/**
 * `/mesh.js`: turns a room name into a full mesh of WebRTC peers over
 * Rendezvous signaling.
 *
 *   const room = joinRoom("abc", { name: "Ann" });
 *   room.addEventListener("message", (e) => console.log(e.detail.from, e.detail.data));
 *   room.send({ hello: "world" });
 *
 * Signaling drops never drop the mesh: established connections keep working
 * while the socket reconnects and resumes, and unfinished negotiations are
 * re-sent once it is back.
 */
import * as v from "valibot";
import { ChatFrame, type IceServer, type PeerInfo } from "../protocol";
import { TypedEventTarget } from "./events";
import { receiveFile, sendFile, type Transfer } from "./files";
import { parseJson } from "./json";
import { Link, type LinkState } from "./link";
import { type RoomFrame, Signaling, type SignalingState, type Welcome } from "./signaling";

export type { SignalingState, Transfer };
export type PeerState = LinkState;

export interface Peer {
  readonly id: string;
  readonly name: string | null;
  state: PeerState;
}

export interface JoinOptions {
  /** Display name shown to the others; anonymous when absent. */
  name?: string;
  /** Base URL of the Rendezvous server; defaults to this page's origin. */
  server?: string;
  /** Overrides the ICE servers the room hands out. */
  iceServers?: RTCIceServer[];
}

/** The events a room dispatches, each a CustomEvent with this `detail`. */
export interface MeshRoomEvents {
  "peer-join": { peer: Readonly<Peer> };
  "peer-state": { peer: Readonly<Peer> };
  /** The peer's data channel is open. */
  "peer-connect": { peer: Readonly<Peer> };
  /** The peer is gone, and removed from `room.peers`. */
  "peer-leave": { peer: Readonly<Peer> };
  message: { from: string; data: unknown };
  "file-start": { from: string; name: string; size: number; type: string; transfer: Transfer };
  file: { from: string; name: string; size: number; type: string; blob: Blob };
  signaling: { state: SignalingState };
  error: { code: string; message: string };
}

export function joinRoom(room: string, options: JoinOptions = {}): MeshRoom {
  return new MeshRoom(room, options);
}

export class MeshRoom extends TypedEventTarget<MeshRoomEvents> {
  /** Our peer id once welcomed, else null. Unchanged by a resume. */
  id: string | null = null;
  readonly #peers = new Map<string, Peer>();
  readonly #links = new Map<string, Link>();
  readonly #signaling: Signaling;
  #iceServers: IceServer[] = [];
  #transfers = 0;

  constructor(
    room: string,
    private readonly options: JoinOptions,
  ) {
    super();
    const base = (options.server ?? location.origin).replace(/^http/, "ws");
    this.#signaling = new Signaling(
      (resume) => {
        const url = new URL(`/r/${encodeURIComponent(room)}/ws`, base);
        if (options.name) url.searchParams.set("name", options.name);
        if (resume) url.searchParams.set("resume", resume);
        return url.href;
      },
      {
        welcome: (welcome) => this.#welcome(welcome),
        message: (message) => this.#signal(message),
        state: (state) => this.emit("signaling", { state }),
        error: (code, message) => this.emit("error", { code, message }),
      },
    );
  }

  get peers(): ReadonlyMap<string, Readonly<Peer>> {
    return this.#peers;
  }

  get signalingState(): SignalingState {
    return this.#signaling.state;
  }

  /** Sends any JSON value to one connected peer, or to every connected peer; returns how many it reached. */
  send(data: unknown, to?: string): number {
    const text = JSON.stringify({ type: "message", data });
    const sent = this.#connected(to).filter((link) => link.sendChat(text)).length;
    if (to !== undefined && sent === 0) throw new Error(`peer ${to} is not connected`);
    return sent;
  }

  /** Sends a file to one connected peer, or to every connected peer. */
  sendFile(file: Blob & { name?: string }, options: { to?: string } = {}): Transfer {
    const links = this.#connected(options.to);
    if (links.length === 0) throw new Error("no connected peer to send the file to");
    const label = `file:${this.id}-${++this.#transfers}`;
    return sendFile(
      file,
      links.map((link) => link.pc.createDataChannel(label, { ordered: true })),
    );
  }

  leave(): void {
    this.#signaling.leave();
    this.#dropAll();
  }

  /** The links that may carry data: one named peer (which must be connected) or all connected ones. */
  #connected(to?: string): Link[] {
    if (to === undefined) return [...this.#links.values()].filter((link) => link.state === "connected");
    const link = this.#links.get(to);
    if (link?.state !== "connected") throw new Error(`peer ${to} is not connected`);
    return [link];
  }

  #welcome(welcome: Welcome): void {
    this.#iceServers = this.options.iceServers ?? welcome.iceServers;
    if (welcome.resumed && welcome.id === this.id) {
      // Same peer, same connections: forget who left while we were away, meet who came.
      const present = new Set(welcome.peers.map((peer) => peer.id));
      for (const id of this.#links.keys()) if (!present.has(id)) this.#drop(id);
      for (const peer of welcome.peers) if (!this.#links.has(peer.id)) this.#add(peer, false);
      for (const link of this.#links.values()) link.resend();
      return;
    }
    // A new identity (first join, or our old one expired): start over as the newcomer, who offers.
    // Our old identity may still be in the roster (its welcome got lost): it will expire, never offer to it.
    const previous = this.id;
    this.#dropAll();
    this.id = welcome.id;
    for (const peer of welcome.peers) if (peer.id !== previous) this.#add(peer, true);
  }

  #signal(message: RoomFrame): void {
    switch (message.type) {
      case "peer-joined":
        if (!this.#links.has(message.peer.id)) this.#add(message.peer, false);
        break;
      case "peer-left":
        this.#drop(message.id);
        break;
      case "offer":
      case "answer":
        this.#links.get(message.from)?.description(message.type, message.sdp);
        break;
      case "candidate":
        // A candidate for a pair already closed has nowhere to go, and that is fine.
        this.#links.get(message.from)?.candidate(message.candidate);
        break;
    }
  }

  #add(info: PeerInfo, initiator: boolean): void {
    const peer: Peer = { id: info.id, name: info.name, state: "connecting" };
    const link = new Link(info.id, initiator, this.#iceServers, (message) => this.#signaling.send(message), {
      state: (state) => {
        peer.state = state;
        this.emit("peer-state", { peer });
        if (state === "connected") this.emit("peer-connect", { peer });
      },
      chat: (text) => {
        const frame = v.safeParse(ChatFrame, parseJson(text));
        if (frame.success) this.emit("message", { from: info.id, data: frame.output.data });
      },
      fileChannel: (channel) =>
        receiveFile(
          channel,
          (transfer) => this.emit("file-start", { from: info.id, ...describe(transfer), transfer }),
          (transfer, blob) => this.emit("file", { from: info.id, ...describe(transfer), blob }),
        ),
    });
    this.#peers.set(info.id, peer);
    this.#links.set(info.id, link);
    this.emit("peer-join", { peer });
  }

  #dropAll(): void {
    for (const id of [...this.#links.keys()]) this.#drop(id);
  }

  #drop(id: string): void {
    const link = this.#links.get(id);
    const peer = this.#peers.get(id);
    if (!link || !peer) return;
    link.close();
    this.#links.delete(id);
    this.#peers.delete(id);
    this.emit("peer-leave", { peer });
  }
}

function describe(transfer: Transfer): { name: string; size: number; type: string } {
  return { name: transfer.name, size: transfer.size, type: transfer.type };
}
