/**
 * The seam between a link's negotiation and the signaling socket: every
 * payload one peer sends another through the server goes out through a codec
 * and comes back in through one, in order. A room without a key speaks
 * protocol v1 in plaintext; a keyed room seals every payload (./seal.ts). A
 * frame in the other form, or one that does not authenticate, is refused
 * alike: the two peers do not share a key.
 */
import * as v from "valibot";
import type { ClientMessage } from "../inbound";
import { IceCandidate, type PeerFrame } from "../protocol";
import { parseJson } from "./json";
import { deriveRoomKey, open, parseKey, ReplayWindow, requireWebCrypto, seal } from "./seal";

/** What a link says to its peer: a description or a candidate. */
export type PeerSignal =
  | { type: "offer"; sdp: string }
  | { type: "answer"; sdp: string }
  | { type: "candidate"; candidate: RTCIceCandidateInit | null };

type Relayed = Extract<ClientMessage, { type: "offer" | "answer" | "candidate" }>;

/** A frame from a peer that is not in this room's form or fails to authenticate. Caught by its link, never shown. */
export class KeyMismatch extends Error {
  constructor(readonly peer: string) {
    super(`key mismatch: ${peer}`);
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

/** What one ordered pair of ids has said: sequence numbers are per pair, not per link. */
interface PairState {
  sent: number;
  replays: ReplayWindow;
}

/**
 * Codecs for a keyed room. Throws at once for a malformed key or a page
 * without WebCrypto; the key derivation itself runs once per room, in the
 * background. Sequence numbers and replay windows belong to the pair of ids,
 * so a link made anew for the same peer (a server that announces it twice)
 * cannot be fed frames the old one already took.
 */
export function sealed(key: string, room: string): CodecFactory {
  requireWebCrypto();
  const roomKey = deriveRoomKey(parseKey(key), room);
  // A failure surfaces wherever the key is awaited; this keeps it from also going unhandled.
  roomKey.catch(() => {});
  const pairs = new Map<string, PairState>();
  return (self, remote) => {
    const pairKey = JSON.stringify([self, remote]);
    const state = pairs.get(pairKey) ?? { sent: 0, replays: new ReplayWindow() };
    pairs.set(pairKey, state);
    return {
      async encode(signal) {
        const { type, ...payload } = signal;
        const context = { room, from: self, to: remote, type };
        state.sent += 1;
        const plaintext = JSON.stringify({ n: state.sent, ...payload });
        const sealedText = await seal(await roomKey, context, plaintext);
        // Two arms for the type checker: sealed descriptions and sealed candidates have their own caps.
        return type === "candidate"
          ? { type, to: remote, sealed: sealedText }
          : { type, to: remote, sealed: sealedText };
      },
      async decode(frame) {
        if (!("sealed" in frame)) throw new KeyMismatch(remote);
        const context = { room, from: remote, to: self, type: frame.type };
        const body = v.safeParse(SealedBody, parseJson(await open(await roomKey, context, frame.sealed)));
        if (!body.success || !state.replays.accept(body.output.n)) throw new KeyMismatch(remote);
        const fields = body.output;
        if ("sdp" in fields && frame.type !== "candidate") return { type: frame.type, sdp: fields.sdp };
        if ("candidate" in fields && frame.type === "candidate") {
          return { type: frame.type, candidate: fields.candidate };
        }
        throw new KeyMismatch(remote);
      },
    };
  };
}
