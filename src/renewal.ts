/**
 * `renew-ice`: fresh TURN credentials for a peer, at most once per half their
 * lifetime after the last ones it was issued (each may be a paid API call;
 * the issue time is stored with the peer, so hibernating does not reset it).
 */
import type { Config } from "./config";
import { errorFrame, type IceServer, type ServerMessage } from "./protocol";
import type { PeerRow, RoomStore } from "./store";
import { type IssuedIce, issueIceServers, notIssued } from "./turn";

/** What renewal needs from the room: sending, and running a change as one transaction. */
export interface RenewalRoom {
  send(socket: WebSocket, message: ServerMessage): void;
  commit(change: () => void): void;
}

export class IceRenewal {
  /** Peers whose renewal is awaiting its credentials: a second one waits its turn. */
  readonly #renewing = new Set<string>();

  constructor(
    private readonly config: Config,
    private readonly store: RoomStore,
    private readonly room: RenewalRoom,
  ) {}

  /**
   * Other events run during the await, so a second renewal in flight is
   * refused before it; after it, this records the issue and answers only the
   * asking socket, while it still speaks for its peer. A failed call records
   * nothing: the peer may retry soon.
   */
  async renew(socket: WebSocket, sender: PeerRow): Promise<void> {
    const { turn } = this.config;
    if (turn === null) {
      this.room.send(socket, { type: "ice-servers", ...iceFields(notIssued(this.config)) });
      return;
    }
    const intervalMs = (turn.ttlSeconds * 1000) / 2;
    const last = this.store.iceIssuedAt(sender.id);
    const wait = last === null ? 0 : last + intervalMs - Date.now();
    if (wait > 0 || this.#renewing.has(sender.id)) {
      const message = `renew-ice at most once every ${intervalMs / 1000} s (half the credentials' lifetime); retry in ${Math.ceil(Math.max(wait, 1000) / 1000)} s`;
      this.room.send(socket, errorFrame("rate-limited", message, "renew-ice"));
      return;
    }
    this.#renewing.add(sender.id);
    const ice = await issueIceServers(this.config, sender.id).finally(() => this.#renewing.delete(sender.id));
    this.room.commit(() => {
      const current = this.store.peer(sender.id);
      if (current?.conn !== sender.conn || current.awayUntil !== null || socket.readyState !== WebSocket.OPEN) return;
      if (ice.issued) this.store.setIceIssuedAt(sender.id, Date.now());
      this.room.send(socket, { type: "ice-servers", ...iceFields(ice) });
    });
  }
}

/** The ICE fields of `welcome` and `ice-servers`: `iceServersTtl` only when something expires. */
export function iceFields(ice: IssuedIce): { iceServers: IceServer[]; iceServersTtl?: number } {
  return ice.ttl === undefined
    ? { iceServers: ice.iceServers }
    : { iceServers: ice.iceServers, iceServersTtl: ice.ttl };
}
