/**
 * Relaying between peers: the per-pair byte budget, ICE holding (a candidate
 * waits until its receiver is ready for its sender), holding for an away
 * receiver within each sender's fair share, and `done`. The room (src/room.ts)
 * decides who is who; this decides what happens to a frame.
 *
 * Every frame a sender addresses to a receiver is charged to that pair's
 * budget when it is accepted, whether it goes out at once or is held first:
 * a held frame is sent later all the same, so holding must not be a way
 * around the budget.
 */

import type { RelayedMessage } from "./inbound";
import { holdRefusal, RELAY_BYTES_PER_PAIR, RELAY_WINDOW_MS, RelayBudget, utf8Length } from "./limits";
import { errorFrame, type ServerMessage } from "./protocol";
import type { HeldFrame, HoldKind, PeerRow, RoomStore } from "./store";

/** How the relay reaches sockets; everything happens once the room's change commits. */
export interface Courier {
  /** Sends a frame to a peer's live socket; false when the peer is away. */
  toPeer(receiver: PeerRow, frame: string): boolean;
  toSocket(socket: WebSocket, message: ServerMessage | string): void;
  log(line: Record<string, unknown>): void;
}

export class Relay {
  readonly #budget = new RelayBudget();

  constructor(
    private readonly store: RoomStore,
    private readonly maxPeers: number,
    private readonly courier: Courier,
  ) {}

  /** An offer, answer or key-mismatch, or a candidate its receiver is ready for: sent now, or held while the receiver is away. */
  forward(socket: WebSocket, sender: PeerRow, receiver: PeerRow, message: RelayedMessage, now: number): void {
    const held = this.#accept(socket, sender, receiver, message, "away", now);
    if (held && !this.courier.toPeer(receiver, held.frame)) this.#hold(socket, held, message.type);
  }

  /** ICE holding: a candidate reaches its receiver only once the receiver is ready for the sender. */
  candidate(socket: WebSocket, sender: PeerRow, receiver: PeerRow, message: RelayedMessage, now: number): void {
    if (this.store.isReady(receiver.id, sender.id)) {
      this.forward(socket, sender, receiver, message, now);
      return;
    }
    const held = this.#accept(socket, sender, receiver, message, "pair", now);
    if (held) this.#hold(socket, held, message.type);
  }

  /** `receiver` can use candidates from `sender` now: mark it and deliver what was held, in order. */
  ready(socket: WebSocket, receiver: PeerRow, sender: PeerRow): void {
    this.store.markReady(receiver.id, sender.id);
    for (const frame of this.store.takeHeld(receiver.id, "pair", sender.id)) this.courier.toSocket(socket, frame);
  }

  /**
   * The pair is connected: drop the candidates still held between them. Each
   * side says so, and again after every ICE restart: only the pair's first
   * `done` writes (the pair is recorded) and logs one line.
   */
  done(sender: PeerRow, peer: PeerRow): void {
    const dropped = this.store.dropPairCandidates(sender.id, peer.id);
    if (this.store.markConnected(sender.id, peer.id)) this.courier.log({ event: "pair-connected", dropped });
  }

  /** A peer is gone: its budgets go with it. */
  forget(id: string): void {
    this.#budget.forget(id);
  }

  /** Charges the pair's budget and makes the frame the receiver will get; null (after telling the sender) when over budget. */
  #accept(
    socket: WebSocket,
    sender: PeerRow,
    receiver: PeerRow,
    message: RelayedMessage,
    kind: HoldKind,
    now: number,
  ): HeldFrame | null {
    const { to: _, ...body } = message;
    const frame = JSON.stringify({ ...body, from: sender.id });
    const bytes = utf8Length(frame);
    if (!this.#budget.take(sender.id, receiver.id, bytes, now)) {
      const budget = `${RELAY_BYTES_PER_PAIR / 1024} KiB per ${RELAY_WINDOW_MS / 1000} s`;
      this.#queueFull(socket, `at most ${budget} are relayed to one peer; dropped`, message.type);
      return null;
    }
    const isCandidate = message.type === "candidate";
    return { receiver: receiver.id, sender: sender.id, kind, isCandidate, frame, bytes, at: now };
  }

  #hold(socket: WebSocket, held: HeldFrame, type: string): void {
    const usage = {
      queue: this.store.heldCount(held.receiver, held.kind, held.sender),
      senderBytes: this.store.heldBytesFrom(held.sender),
    };
    const refusal = holdRefusal(held.kind, usage, held.bytes, this.maxPeers);
    if (refusal === null) this.store.hold(held);
    else this.#queueFull(socket, `${refusal}; dropped`, type);
  }

  #queueFull(socket: WebSocket, message: string, ref: string): void {
    this.courier.toSocket(socket, errorFrame("queue-full", message, ref));
  }
}
