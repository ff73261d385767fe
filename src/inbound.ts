/**
 * What the server parses from room sockets: the client's messages, and the
 * display name of a join. Part of the wire protocol (./protocol.ts has the
 * rest, and docs/protocol.md specifies both); kept apart because only the
 * server parses these, so the browser library imports their types alone.
 *
 * Object schemas strip unknown fields, so extra fields a client sends (a
 * forged `from`, say) never reach the room's logic or another peer.
 */
import * as v from "valibot";
import { IceCandidate, Nonce, PeerId, Sdp, SdpType, Sealed, SealedCandidate } from "./protocol";

const MAX_NAME_CODE_POINTS = 40;

// Client → server.

// Each relayed message comes in two forms: plaintext (protocol v1), or sealed
// (a keyed room). The server treats both alike: it routes on `type` and `to`.
const Offer = v.object({ type: v.literal("offer"), to: PeerId, sdp: Sdp });
const Answer = v.object({ type: v.literal("answer"), to: PeerId, sdp: Sdp });
const Candidate = v.object({ type: v.literal("candidate"), to: PeerId, candidate: IceCandidate });
const SealedSdpPayload = v.object({ type: SdpType, to: PeerId, sealed: Sealed });
const SealedCandidatePayload = v.object({
  type: v.literal("candidate"),
  to: PeerId,
  sealed: SealedCandidate,
});
/** "Your signaling does not authenticate under my key": relayed, never sealed. */
const KeyMismatchNotice = v.object({ type: v.literal("key-mismatch"), to: PeerId });
const Ready = v.object({ type: v.literal("ready"), to: PeerId });
const Done = v.object({ type: v.literal("done"), to: PeerId });
/** Asks for fresh ICE servers (TURN credentials) before the current ones expire. */
const RenewIce = v.object({ type: v.literal("renew-ice") });
const Leave = v.object({ type: v.literal("leave") });
/** Answers the server's `ack-request`: everything before it was read. */
const Ack = v.object({ type: v.literal("ack"), nonce: Nonce });

export const ClientMessage = v.variant("type", [
  Offer,
  Answer,
  Candidate,
  SealedSdpPayload,
  SealedCandidatePayload,
  KeyMismatchNotice,
  Ready,
  Done,
  RenewIce,
  Leave,
  Ack,
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
  "ack",
]);

/** Messages the server relays to `to`, rewriting `to` into `from`. */
export type RelayedMessage = Extract<ClientMessage, { type: "offer" | "answer" | "candidate" | "key-mismatch" }>;

// Display names.

/**
 * A zero-width joiner inside an emoji ZWJ sequence (👩‍💻, 🏳️‍🌈, 👨🏽‍💻): between two
 * pictographs, the first perhaps with its presentation selector or skin tone.
 * Such a joiner only picks one emoji glyph over two, so names keep them; a
 * joiner anywhere else is invisible and refused like every format character.
 */
const EMOJI_JOINER = /(\p{Extended_Pictographic}(?:\u{FE0F}|\p{Emoji_Modifier})?)\u200D(?=\p{Extended_Pictographic})/gu;
/**
 * Format characters (Cf: bidi overrides, embeddings and isolates, zero-width
 * space, joiners, BOM, tags, …) and line and paragraph separators (Zl, Zp):
 * invisible, they let a name read as something it is not ("Ann\u202Egnp.exe"
 * shows as "Annexe.png") or look like another peer's.
 */
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}]/u;

function hasInvisible(name: string): boolean {
  return INVISIBLE.test(name.replace(EMOJI_JOINER, "$1"));
}

/**
 * A display name as the `name` query parameter gives it: trimmed, 1–40 code
 * points, no control characters (Unicode category Cc), no format characters
 * or line and paragraph separators (Cf, Zl, Zp) except the joiners of emoji
 * sequences. Empty or whitespace-only means anonymous (`null`).
 */
export const DisplayName = v.pipe(
  v.string(),
  v.trim(),
  v.check((name) => [...name].length <= MAX_NAME_CODE_POINTS, "at most 40 characters"),
  v.check((name) => !/\p{Cc}/u.test(name), "no control characters"),
  v.check(
    (name) => !hasInvisible(name),
    "free of format characters (bidi controls, zero-width characters) and line or paragraph separators",
  ),
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
