/** Random identifiers and secrets, URL-safe base64 without padding. */
import { toBase64Url } from "./base64url";

function randomBase64Url(bytes: number): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Public peer id: 128 random bits. */
export const newPeerId = (): string => randomBase64Url(16);
/** Secret resume token: 256 random bits, never shown to anyone but its peer. */
export const newResumeToken = (): string => randomBase64Url(32);
/** Names one WebSocket connection of a peer; a resume gets a new one. */
export const newConnectionId = (): string => randomBase64Url(12);
/** A receipt request's nonce (src/receipts.ts): unguessable, so only a reader can echo it. */
export const newNonce = (): string => randomBase64Url(12);

/** Tokens are stored hashed, so a leaked table cannot be used to hijack a peer. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return toBase64Url(new Uint8Array(digest));
}
