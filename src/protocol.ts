/**
 * Wire protocol v1: the one schema that the server and the browser client both
 * parse network data with. docs/protocol.md is its written specification.
 *
 * Object schemas strip unknown fields, so extra fields a client sends (a
 * forged `from`, say) never reach the room's logic or another peer.
 */
import * as v from "valibot";

/** Longest room name, peer id and display name. */
export const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** URL-safe base64 without padding: room keys and sealed payloads. */
export const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MAX_ID_LENGTH = 64;
const MAX_NAME_CODE_POINTS = 40;

/** Close codes the server uses; 1000 is a graceful `leave`. */
export const CloseCode = {
  left: 1000,
  roomFull: 4001,
  replaced: 4002,
  badName: 4003,
  flooding: 4008,
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
]);
export type ErrorCode = v.InferOutput<typeof ErrorCode>;

const PeerId = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_ID_LENGTH));
const Sdp = v.string();
/**
 * An end-to-end encrypted payload (base64url of IV ‖ AES-GCM ciphertext): what
 * a keyed room's peers send in place of `sdp` or `candidate`. The server only
 * routes it; src/client/seal.ts makes and opens it.
 */
export const Sealed = v.pipe(v.string(), v.minLength(1), v.regex(BASE64URL, "base64url"));

/** What RTCPeerConnection.addIceCandidate accepts; `null` ends the trickle. */
export const IceCandidate = v.nullable(
  v.object({
    candidate: v.optional(v.string()),
    sdpMid: v.optional(v.nullable(v.string())),
    sdpMLineIndex: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0)))),
    usernameFragment: v.optional(v.nullable(v.string())),
  }),
);

// Client → server.

// Each relayed message comes in two forms: plaintext (protocol v1), or sealed
// (a keyed room). The server treats both alike: it routes on `type` and `to`.
const RelayedType = v.picklist(["offer", "answer", "candidate"]);
const Offer = v.object({ type: v.literal("offer"), to: PeerId, sdp: Sdp });
const Answer = v.object({ type: v.literal("answer"), to: PeerId, sdp: Sdp });
const Candidate = v.object({ type: v.literal("candidate"), to: PeerId, candidate: IceCandidate });
const SealedPayload = v.object({ type: RelayedType, to: PeerId, sealed: Sealed });
/** "Your signaling does not authenticate under my key": relayed, never sealed. */
const KeyMismatchNotice = v.object({ type: v.literal("key-mismatch"), to: PeerId });
const Ready = v.object({ type: v.literal("ready"), to: PeerId });
const Done = v.object({ type: v.literal("done"), to: PeerId });
/** Asks for fresh ICE servers (TURN credentials) before the current ones expire. */
const RenewIce = v.object({ type: v.literal("renew-ice") });
const Leave = v.object({ type: v.literal("leave") });

export const ClientMessage = v.variant("type", [
  Offer,
  Answer,
  Candidate,
  SealedPayload,
  KeyMismatchNotice,
  Ready,
  Done,
  RenewIce,
  Leave,
]);
export type ClientMessage = v.InferOutput<typeof ClientMessage>;
export type ClientMessageType = ClientMessage["type"];
export const CLIENT_MESSAGE_TYPES: ReadonlySet<string> = new Set<ClientMessageType>([
  "offer",
  "answer",
  "candidate",
  "key-mismatch",
  "ready",
  "done",
  "renew-ice",
  "leave",
]);

/** Messages the server relays to `to`, rewriting `to` into `from`. */
export type RelayedMessage = Extract<ClientMessage, { type: "offer" | "answer" | "candidate" | "key-mismatch" }>;

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
const PeerJoined = v.object({ type: v.literal("peer-joined"), peer: PeerInfo });
const PeerLeft = v.object({ type: v.literal("peer-left"), id: PeerId });
const RelayedOffer = v.object({ type: v.literal("offer"), from: PeerId, sdp: Sdp });
const RelayedAnswer = v.object({ type: v.literal("answer"), from: PeerId, sdp: Sdp });
const RelayedCandidate = v.object({ type: v.literal("candidate"), from: PeerId, candidate: IceCandidate });
const RelayedSealed = v.object({ type: RelayedType, from: PeerId, sealed: Sealed });
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
  PeerJoined,
  PeerLeft,
  RelayedOffer,
  RelayedAnswer,
  RelayedCandidate,
  RelayedSealed,
  RelayedKeyMismatch,
  ErrorFrame,
]);
export type ServerMessage = v.InferOutput<typeof ServerMessage>;
/** A relayed message as its receiver gets it: `from` instead of `to`. */
export type PeerFrame = Extract<ServerMessage, { from: string }>;
export type ErrorFrame = v.InferOutput<typeof ErrorFrame>;

/**
 * A display name as the `name` query parameter gives it: trimmed, 1–40 code
 * points, no control characters (Unicode category Cc). Empty or whitespace-only
 * means anonymous (`null`).
 */
export const DisplayName = v.pipe(
  v.string(),
  v.trim(),
  v.check((name) => [...name].length <= MAX_NAME_CODE_POINTS, "at most 40 characters"),
  v.check((name) => !/\p{Cc}/u.test(name), "no control characters"),
  v.transform((name) => (name === "" ? null : name)),
);

/** Reads a `name` parameter; absent means anonymous. */
export function parseDisplayName(
  raw: string | null,
): { ok: true; name: string | null } | { ok: false; message: string } {
  const result = v.safeParse(DisplayName, raw ?? "");
  if (result.success) return { ok: true, name: result.output };
  return { ok: false, message: `name must be ${result.issues[0].message}` };
}

export function errorFrame(code: ErrorCode, message: string, ref?: string): ErrorFrame {
  return ref === undefined ? { type: "error", code, message } : { type: "error", code, message, ref };
}

// Peer → peer, over data channels. Each side parses what the other sends.

/** On the `chat` channel: an application message, any JSON value. */
export const ChatFrame = v.object({ type: v.literal("message"), data: v.unknown() });

/** A file channel (`file:<id>`) opens with a header, then carries binary chunks. */
export const FileHeader = v.object({
  type: v.literal("file-header"),
  name: v.pipe(v.string(), v.maxLength(1024)),
  size: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  mime: v.pipe(v.string(), v.maxLength(256)),
});
export type FileHeader = v.InferOutput<typeof FileHeader>;

/** Control frames on a file channel after the header, in either direction. */
export const FileControl = v.variant("type", [
  /** Sender: every byte is sent; this is their SHA-256. */
  v.object({ type: v.literal("file-end"), sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) }),
  /** Receiver: the file arrived and its digest matches. */
  v.object({ type: v.literal("file-received") }),
  /** Receiver: the digest or the size did not match. */
  v.object({ type: v.literal("file-corrupt") }),
  /** Either side: stop the transfer. */
  v.object({ type: v.literal("file-cancel") }),
]);
export type FileControl = v.InferOutput<typeof FileControl>;
