/**
 * The seam between a link's negotiation and the signaling socket: every
 * payload one peer sends another through the server goes out through a codec
 * and comes back in through one, in order. A room without a key speaks
 * protocol v1 in plaintext; a keyed room seals every payload (./seal.ts). A
 * frame in the other form, or one that does not authenticate, is refused
 * alike: the two peers do not share a key.
 */
import * as v from "valibot";
import { type ClientMessage, IceCandidate, type PeerFrame } from "../protocol";
import { parseJson } from "./json";
import { deriveRoomKey, open, parseKey, ReplayWindow, seal } from "./seal";

/** What a link says to its peer: a description or a candidate. */
export type PeerSignal =
  | { type: "offer"; sdp: string }
  | { type: "answer"; sdp: string }
  | { type: "candidate"; candidate: RTCIceCandidateInit | null };

type Relayed = Extract<ClientMessage, { type: "offer" | "answer" | "candidate" }>;

/** A frame from a peer that is not in this room's form or fails to authenticate. */
export class KeyMismatch extends Error {
  constructor(readonly peer: string) {
    super(`signaling from peer ${peer} does not match this room's key`);
  }
}

/** One codec per link: ours and theirs are fixed for its lifetime. */
export interface PairCodec {
  encode(signal: PeerSignal): Promise<Relayed>;
  /** The payload of a relayed frame; throws KeyMismatch when it is not ours to read. */
  decode(frame: Extract<PeerFrame, { type: PeerSignal["type"] }>): Promise<PeerSignal>;
}

/** Makes the codec for the pair (ours, theirs). */
export type CodecFactory = (self: string, remote: string) => PairCodec;

export const plaintext: CodecFactory = (_self, remote) => ({
  encode: async (signal) => ({ ...signal, to: remote }),
  decode: async (frame) => {
    if ("sealed" in frame) throw new KeyMismatch(remote);
    return frame.type === "candidate"
      ? { type: frame.type, candidate: frame.candidate }
      : { type: frame.type, sdp: frame.sdp };
  },
});

/** The sealed plaintext: a sequence number, then the payload's fields. */
const SealedBody = v.union([
  v.object({ n: v.number(), sdp: v.string() }),
  v.object({ n: v.number(), candidate: IceCandidate }),
]);

/**
 * Codecs for a keyed room. Throws a TypeError at once for a malformed key;
 * the key derivation itself runs once per room, in the background.
 */
export function sealed(key: string, room: string): CodecFactory {
  const roomKey = deriveRoomKey(parseKey(key), room);
  return (self, remote) => {
    let sent = 0;
    const replays = new ReplayWindow();
    return {
      async encode(signal) {
        const { type, ...payload } = signal;
        const context = { room, from: self, to: remote, type };
        sent += 1;
        return {
          type,
          to: remote,
          sealed: await seal(await roomKey, context, JSON.stringify({ n: sent, ...payload })),
        };
      },
      async decode(frame) {
        if (!("sealed" in frame)) throw new KeyMismatch(remote);
        const context = { room, from: remote, to: self, type: frame.type };
        const body = v.safeParse(SealedBody, parseJson(await open(await roomKey, context, frame.sealed)));
        if (!body.success || !replays.accept(body.output.n)) throw new KeyMismatch(remote);
        const fields = body.output;
        if ("sdp" in fields && frame.type !== "candidate") return { type: frame.type, sdp: fields.sdp };
        if ("candidate" in fields && frame.type === "candidate")
          return { type: frame.type, candidate: fields.candidate };
        throw new KeyMismatch(remote);
      },
    };
  };
}
