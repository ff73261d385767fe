/**
 * End-to-end encrypted signaling for keyed rooms, on WebCrypto alone.
 *
 * A room key (base64url, at least 128 random bits) never reaches the server.
 * From it and the room name, HKDF-SHA-256 derives one AES-GCM-256 key. Every
 * payload a peer sends through the server is sealed under it with a fresh
 * random 96-bit IV, and the associated data binds the protocol version, the
 * room, the sender, the recipient and the message type: a frame the server
 * re-addresses, retypes, moves to another room or alters fails to open. Each
 * sealed payload also carries a per-pair sequence number that the receiver
 * accepts once for as long as both keep their ids, so a frame the server
 * replays fails too.
 */
import { BASE64URL, fromBase64Url, toBase64Url } from "../base64url";

/** Named in the associated data and the HKDF salt, so a future format cannot be confused with this one. */
const FORMAT = "rendezvous-e2e-v1";
const IV_BYTES = 12;
const KEY_BYTES = 16;
/** How far behind the newest sequence number a late frame may still arrive (held candidates arrive late). */
const REPLAY_WINDOW = 1024;

const utf8 = new TextEncoder();

/** WebCrypto exists only in secure contexts (https, localhost): say so at once, not by a silent hang. */
export function requireWebCrypto(): void {
  if (!globalThis.crypto?.subtle) {
    throw new Error("end-to-end encryption needs WebCrypto, which this page lacks: open it over https or localhost");
  }
}

/** A fresh room key: 128 random bits, base64url without padding (22 characters). */
export function generateKey(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(KEY_BYTES)));
}

/**
 * Reads a room key; throws a TypeError for anything that is not base64url of
 * at least 128 bits, written the one way it encodes (no stray trailing bits),
 * so that one key has one spelling.
 */
export function parseKey(key: string): Uint8Array<ArrayBuffer> {
  const bytes = BASE64URL.test(key) ? fromBase64Url(key) : null;
  if (!bytes || bytes.length < KEY_BYTES || toBase64Url(bytes) !== key) {
    throw new TypeError("the room key must be base64url of at least 128 bits");
  }
  return bytes;
}

/** The AES-GCM key for one room, derived from the room key and bound to the room's name. */
export async function deriveRoomKey(key: Uint8Array<ArrayBuffer>, room: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", key, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: utf8.encode(FORMAT), info: utf8.encode(`room:${room}`) },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** Who a sealed payload is from and to, in which room, as what: all of it authenticated. */
export interface SealContext {
  room: string;
  from: string;
  to: string;
  type: string;
}

function associatedData({ room, from, to, type }: SealContext): Uint8Array<ArrayBuffer> {
  // A JSON array: no choice of ids or room name can make two contexts encode alike.
  return utf8.encode(JSON.stringify([FORMAT, room, from, to, type]));
}

/** Encrypts `plaintext` for `context`: base64url of IV ‖ ciphertext ‖ tag. */
export async function seal(key: CryptoKey, context: SealContext, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: associatedData(context) },
    key,
    utf8.encode(plaintext),
  );
  const out = new Uint8Array(IV_BYTES + ciphertext.byteLength);
  out.set(iv);
  out.set(new Uint8Array(ciphertext), IV_BYTES);
  return toBase64Url(out);
}

/** Decrypts a sealed payload; null when it does not authenticate under `key` for exactly `context`. */
export async function open(key: CryptoKey, context: SealContext, sealed: string): Promise<string | null> {
  const bytes = fromBase64Url(sealed);
  if (!bytes || bytes.length <= IV_BYTES) return null;
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: associatedData(context) },
      key,
      bytes.subarray(IV_BYTES),
    );
    return new TextDecoder("utf-8", { fatal: true }).decode(plaintext);
  } catch {
    return null;
  }
}

/**
 * Accepts each sequence number once: anything seen, or older than the window
 * behind the newest, is a replay. Memory stays bounded by the window.
 */
export class ReplayWindow {
  #newest = 0;
  readonly #seen = new Set<number>();

  accept(sequence: number): boolean {
    if (!Number.isSafeInteger(sequence) || sequence < 1) return false;
    if (sequence <= this.#newest - REPLAY_WINDOW || this.#seen.has(sequence)) return false;
    this.#seen.add(sequence);
    if (sequence > this.#newest) {
      this.#newest = sequence;
      for (const old of this.#seen) if (old <= sequence - REPLAY_WINDOW) this.#seen.delete(old);
    }
    return true;
  }
}
