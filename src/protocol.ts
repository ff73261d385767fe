/**
 * Wire protocol v1: the one schema that the server and the browser client both
 * parse network data with. docs/protocol.md is its written specification.
 * What only the server parses (client messages, display names) is in
 * ./inbound.ts, so that /mesh.js does not carry it.
 *
 * Object schemas strip unknown fields, so extra fields a client sends (a
 * forged `from`, say) never reach the room's logic or another peer.
 */
import * as v from "valibot";
import { BASE64URL } from "./base64url";

/** Room names, as the URL carries them. */
export const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_ID_LENGTH = 64;

/**
 * Field caps, so that what a room relays and holds is bounded by what real
 * negotiations need. Measured in Chromium 156 (fake camera and microphone):
 * an offer with a data channel plus audio and video is 5,733 characters
 * (6,075 once its candidates are gathered), its answer 5,437; a renegotiation
 * to 2 audio + 2 video tracks is 11,314, its answer 10,167. Firefox's
 * audio+video SDPs are about 3–4 KB (measured by this project's maintainers in Firefox ESR). 32 KiB leaves
 * room for about three times that: ten or so tracks.
 */
export const MAX_SDP_LENGTH = 32 * 1024;
/** An ICE candidate line; Chromium's host candidates are about 115 characters. */
export const MAX_CANDIDATE_LENGTH = 1024;
/** RFC 8839 bounds `ice-ufrag` at 256 characters; a mid (browsers write "0", "1", …) gets as much. */
export const MAX_UFRAG_LENGTH = 256;
export const MAX_MID_LENGTH = 256;
/** RTCIceCandidateInit.sdpMLineIndex is an `unsigned short`. */
export const MAX_MLINE_INDEX = 65_535;

/**
 * The longest `sealed` that a payload within the caps above needs (see
 * src/client/seal.ts): the plaintext `{"n":SEQ,…}` is the payload as JSON,
 * where escaping CRLF line ends adds about 6% to an SDP (at most a quarter,
 * for lines of 8 characters), plus the envelope; then a 12-byte IV and a
 * 16-byte tag; then base64's 4/3.
 */
function sealedLength(payloadLength: number): number {
  const ENVELOPE = 128;
  const plaintext = Math.ceil(payloadLength * 1.25) + ENVELOPE;
  return Math.ceil(((plaintext + 12 + 16) * 4) / 3);
}
/** 54,822 characters: a sealed offer or answer at the SDP cap still fits a 64 KiB frame. */
export const MAX_SEALED_SDP_LENGTH = sealedLength(MAX_SDP_LENGTH);
/** 2,768 characters, where a sealed Chromium host candidate is about 320. */
export const MAX_SEALED_CANDIDATE_LENGTH = sealedLength(MAX_CANDIDATE_LENGTH + MAX_MID_LENGTH + MAX_UFRAG_LENGTH);

function capped(max: number) {
  return v.pipe(v.string(), v.maxLength(max, `at most ${max} characters`));
}

/** Close codes the server uses; 1000 is a graceful `leave`. */
export const CloseCode = {
  left: 1000,
  roomFull: 4001,
  replaced: 4002,
  badName: 4003,
  flooding: 4008,
  /** More was sent than the client confirmed reading (see `ack-request`): resume to go on. */
  notReading: 4009,
  /** Too many joins and resumes into this room just now. */
  joinRateLimited: 4029,
} as const;

export const ErrorCode = v.picklist([
  "bad-json",
  "bad-message",
  "too-large",
  "binary-unsupported",
  "unknown-peer",
  "queue-full",
  "rate-limited",
  "room-full",
  "bad-name",
  /** The server failed unexpectedly while handling a message; nothing else changed. */
  "internal",
]);
export type ErrorCode = v.InferOutput<typeof ErrorCode>;

export const PeerId = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_ID_LENGTH));
export const Sdp = capped(MAX_SDP_LENGTH);
/**
 * An end-to-end encrypted payload (base64url of IV ‖ AES-GCM ciphertext): what
 * a keyed room's peers send in place of `sdp` or `candidate`. The server only
 * routes it; src/client/seal.ts makes and opens it. Its cap depends on what it
 * carries, which the message's `type` says.
 */
function sealed(max: number) {
  return v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(max, `at most ${max} characters`),
    v.regex(BASE64URL, "base64url"),
  );
}
export const Sealed = sealed(MAX_SEALED_SDP_LENGTH);
export const SealedCandidate = sealed(MAX_SEALED_CANDIDATE_LENGTH);

/** What RTCPeerConnection.addIceCandidate accepts; `null` ends the trickle. */
export const IceCandidate = v.nullable(
  v.object({
    candidate: v.optional(capped(MAX_CANDIDATE_LENGTH)),
    sdpMid: v.optional(v.nullable(capped(MAX_MID_LENGTH))),
    sdpMLineIndex: v.optional(
      v.nullable(
        v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_MLINE_INDEX, `at most ${MAX_MLINE_INDEX}`)),
      ),
    ),
    usernameFragment: v.optional(v.nullable(capped(MAX_UFRAG_LENGTH))),
  }),
);

/** The two kinds of session description a sealed payload may carry. */
export const SdpType = v.picklist(["offer", "answer"]);

// Server → client.

const PeerInfo = v.object({ id: PeerId, name: v.nullable(v.string()) });
export type PeerInfo = v.InferOutput<typeof PeerInfo>;

/** The subset of RTCIceServer that configuration and `welcome` carry. */
export const IceServer = v.object({
  urls: v.union([v.string(), v.array(v.string())]),
  username: v.optional(v.string()),
  credential: v.optional(v.string()),
});
export type IceServer = v.InferOutput<typeof IceServer>;

const Welcome = v.object({
  type: v.literal("welcome"),
  id: PeerId,
  resume: v.string(),
  resumed: v.boolean(),
  peers: v.array(PeerInfo),
  iceServers: v.array(IceServer),
  /** Seconds until the TURN credentials in `iceServers` expire; absent when nothing expires. */
  iceServersTtl: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  maxPeers: v.number(),
});
/** The answer to `renew-ice`: fresh credentials, as in `welcome`. */
const IceServers = v.object({
  type: v.literal("ice-servers"),
  iceServers: v.array(IceServer),
  iceServersTtl: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});
/**
 * A receipt request: answer at once with `ack` and this nonce, which proves
 * that everything sent before it was read (src/receipts.ts).
 */
export const Nonce = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_ID_LENGTH));
const AckRequest = v.object({ type: v.literal("ack-request"), nonce: Nonce });
const PeerJoined = v.object({ type: v.literal("peer-joined"), peer: PeerInfo });
const PeerLeft = v.object({ type: v.literal("peer-left"), id: PeerId });
const RelayedOffer = v.object({ type: v.literal("offer"), from: PeerId, sdp: Sdp });
const RelayedAnswer = v.object({ type: v.literal("answer"), from: PeerId, sdp: Sdp });
const RelayedCandidate = v.object({ type: v.literal("candidate"), from: PeerId, candidate: IceCandidate });
const RelayedSealedSdp = v.object({ type: SdpType, from: PeerId, sealed: Sealed });
const RelayedSealedCandidate = v.object({ type: v.literal("candidate"), from: PeerId, sealed: SealedCandidate });
const RelayedKeyMismatch = v.object({ type: v.literal("key-mismatch"), from: PeerId });
const ErrorFrame = v.object({
  type: v.literal("error"),
  code: ErrorCode,
  message: v.string(),
  ref: v.optional(v.string()),
});

export const ServerMessage = v.variant("type", [
  Welcome,
  IceServers,
  AckRequest,
  PeerJoined,
  PeerLeft,
  RelayedOffer,
  RelayedAnswer,
  RelayedCandidate,
  RelayedSealedSdp,
  RelayedSealedCandidate,
  RelayedKeyMismatch,
  ErrorFrame,
]);
export type ServerMessage = v.InferOutput<typeof ServerMessage>;
/** A relayed message as its receiver gets it: `from` instead of `to`. */
export type PeerFrame = Extract<ServerMessage, { from: string }>;
export type ErrorFrame = v.InferOutput<typeof ErrorFrame>;

export function errorFrame(code: ErrorCode, message: string, ref?: string): ErrorFrame {
  return ref === undefined ? { type: "error", code, message } : { type: "error", code, message, ref };
}

// Peer → peer, over data channels. Each side parses what the other sends.

/** On the `chat` channel: an application message, any JSON value. */
const ChatFrame = v.object({ type: v.literal("message"), data: v.unknown() });

const short = (max: number) => v.pipe(v.string(), v.maxLength(max));
/**
 * On the `chat` channel: the streams the sender publishes, its whole state
 * each time (src/client/media.ts). `mid` names the media slot a track uses.
 */
export const MediaFrame = v.object({
  type: v.literal("media"),
  streams: v.pipe(
    v.array(
      v.object({
        id: short(32),
        label: short(64),
        tracks: v.pipe(v.array(v.object({ mid: short(32), muted: v.boolean() })), v.maxLength(4)),
      }),
    ),
    v.maxLength(4),
  ),
});
export type MediaFrame = v.InferOutput<typeof MediaFrame>;

/** What a peer says on the `chat` channel; `want-media` asks the link's initiator for media slots. */
export const PeerControl = v.variant("type", [ChatFrame, MediaFrame, v.object({ type: v.literal("want-media") })]);

/** A file channel (`file:<id>`) opens with a header, then carries binary chunks. */
export const FileHeader = v.object({
  type: v.literal("file-header"),
  name: v.pipe(v.string(), v.maxLength(1024)),
  size: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  mime: v.pipe(v.string(), v.maxLength(256)),
  /** The sender paces by the receiver's `file-ack`s and resumes on a new channel (absent from a v1 sender). */
  acks: v.optional(v.literal(true)),
  /**
   * A block check the sender offers besides SHA-256 ("murmur3"); the receiver takes it up in its first `file-ack`.
   * Any other name is one this page does not know, and leaves SHA-256.
   */
  check: v.optional(v.pipe(v.string(), v.maxLength(32))),
});
export type FileHeader = v.InferOutput<typeof FileHeader>;

/** The first frame on a file channel: a new file, or one whose channel closed midway, resumed. */
export const FileOpening = v.variant("type", [FileHeader, v.object({ type: v.literal("file-resume") })]);

/** Blocks of 1 MiB in the largest file a header can declare (2^53 bytes). */
const MAX_BLOCKS = 2 ** 33;

/** Control frames on a file channel after the header, in either direction. */
export const FileControl = v.variant("type", [
  /** Sender: every byte is sent; this is the SHA-256 of their blocks' checks. */
  v.object({ type: v.literal("file-end"), sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) }),
  /** Receiver: this many blocks are stored; the next block to send, after a resume. */
  v.object({
    type: v.literal("file-ack"),
    blocks: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_BLOCKS)),
    /** In the first ack only: the check the header offered, taken up ("murmur3"); absent, SHA-256. */
    check: v.optional(v.pipe(v.string(), v.maxLength(32))),
  }),
  /** Receiver: the file arrived and its digest matches. */
  v.object({ type: v.literal("file-received") }),
  /** Receiver: the digest or the size did not match. */
  v.object({ type: v.literal("file-corrupt") }),
  /** Either side: stop the transfer (a receiver asked to resume a transfer it no longer has says this too). */
  v.object({ type: v.literal("file-cancel") }),
]);
export type FileControl = v.InferOutput<typeof FileControl>;
