/**
 * Moving a room's time in tests: rewrite what it stored, then evict it so
 * that it reads the rewritten values on its next wake.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { type Peer, roomStub } from "./peer";

/** As if `ms` more passed for the peers matching `where`: their absence clocks move back. */
export async function age(room: string, ms: number, where = "away_until IS NOT NULL", ...bindings: string[]) {
  const stub = roomStub(room);
  await runInDurableObject(stub, (_, state) => {
    state.storage.sql.exec(`UPDATE peers SET absence_at = absence_at - ? WHERE ${where}`, ms, ...bindings);
  });
  await evictDurableObject(stub);
}

/** Ends a socket as a network blip does (no `leave`), and waits until the room has handled it. */
export async function drop(peer: Peer, witness: Peer): Promise<void> {
  peer.close(4000);
  await peer.closed;
  await witness.drain();
}
