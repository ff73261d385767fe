/** Room names and the display name this device remembers. */

/** The server's rule for room names (src/protocol.ts ROOM_NAME), restated so app.js need not bundle valibot. */
export const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const NAME_KEY = "rendezvous:name";

/** An unguessable room name: 16 random bytes (128 bits), base64url without padding. */
export function randomRoomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const binary = String.fromCharCode(...bytes);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The room a `/r/:room` path names, or null for any other page. */
export function roomFromPath(pathname: string): string | null {
  const match = /^\/r\/([^/]+)\/?$/.exec(pathname);
  if (!match?.[1]) return null;
  let room: string;
  try {
    room = decodeURIComponent(match[1]);
  } catch {
    return null;
  }
  return ROOM_NAME.test(room) ? room : null;
}

export function roomPath(room: string): string {
  return `/r/${encodeURIComponent(room)}`;
}

/** The remembered display name: "" means anonymous by choice, null means never asked. */
export function loadName(): string | null {
  try {
    return localStorage.getItem(NAME_KEY);
  } catch {
    return null;
  }
}

export function saveName(name: string): void {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // Storage may be off (private mode); the name then lasts for this visit only.
  }
}

/** Trims a typed name and keeps it within the server's 40 code points. */
export function cleanName(raw: string): string {
  return [...raw.trim()].slice(0, 40).join("");
}
