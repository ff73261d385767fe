/**
 * Who gets a seat: the rule that lets a live newcomer into a full room in
 * place of a peer that is not really there, and the optional per-address cap.
 *
 * A peer's **absence** is a leaky count, in milliseconds: it grows by every
 * millisecond the peer is away, and shrinks by a quarter of every millisecond
 * it is connected, never below zero. A settled peer that blips starts from
 * zero, so it keeps its seat for RECLAIM_AFTER_MS; a peer that drops and
 * resumes must stay connected four times as long as it was away just to keep
 * its absence from growing, so cycling (a squatter resuming every 4 s) cannot
 * hold a seat: its absence passes 5 s within a few cycles, and from then on,
 * whenever it is away, a newcomer takes its seat.
 */
import type { PeerRow } from "./store";

/** A full room gives an away peer's seat to a live newcomer once the peer's absence passes this. */
export const RECLAIM_AFTER_MS = 5_000;
/** Milliseconds connected that forgive one millisecond away. */
export const FORGIVENESS = 4;

/** The peer's absence at `now`, from what was stored at its last connect or disconnect. */
export function absenceAt(peer: Pick<PeerRow, "awayUntil" | "absence" | "absenceAt">, now: number): number {
  const elapsed = Math.max(0, now - peer.absenceAt);
  return peer.awayUntil === null ? Math.max(0, peer.absence - elapsed / FORGIVENESS) : peer.absence + elapsed;
}

export interface SeatRules {
  maxPeers: number;
  /** Seats one client address may hold; null: no limit. */
  maxPeersPerIp: number | null;
}

/** A join is admitted once `evict` (the longest-away first) are gone, or refused with a reason. */
export type Seating = { admit: true; evict: string[] } | { admit: false; reason: string };

/** Whether a newcomer from `ip` gets a seat among `peers` (the room's roster) at `now`. */
export function seat(peers: readonly PeerRow[], ip: string | null, now: number, rules: SeatRules): Seating {
  const evict: string[] = [];
  const { maxPeersPerIp } = rules;
  if (maxPeersPerIp !== null && ip !== null) {
    const mine = peers.filter((peer) => peer.ip === ip);
    if (mine.length >= maxPeersPerIp) {
      const freed = reclaimable(mine, now)[0];
      if (freed === undefined) {
        const seats = maxPeersPerIp === 1 ? "a seat" : `${maxPeersPerIp} seats`;
        return { admit: false, reason: `your address already holds ${seats} in this room (MAX_PEERS_PER_IP)` };
      }
      evict.push(freed.id);
    }
  }
  if (peers.length - evict.length >= rules.maxPeers) {
    const freed = reclaimable(
      peers.filter((peer) => !evict.includes(peer.id)),
      now,
    )[0];
    if (freed === undefined) {
      return {
        admit: false,
        reason: `this room is full (${rules.maxPeers} peers), and none has been away for more than ${RECLAIM_AFTER_MS / 1000} s`,
      };
    }
    evict.push(freed.id);
  }
  return { admit: true, evict };
}

/** Away peers whose absence passed RECLAIM_AFTER_MS, the longest-away first. */
function reclaimable(peers: readonly PeerRow[], now: number): PeerRow[] {
  return peers
    .filter((peer) => peer.awayUntil !== null && absenceAt(peer, now) > RECLAIM_AFTER_MS)
    .sort((a, b) => absenceAt(b, now) - absenceAt(a, now));
}
