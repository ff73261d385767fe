/**
 * Cross-site WebSocket hijacking defence. Browsers always send `Origin` on a
 * WebSocket upgrade; other clients usually do not, and are let through.
 */

/** Same host as the request, or listed exactly in ALLOWED_ORIGINS. `Origin: null` never passes. */
export function isAllowedOrigin(origin: string | undefined, requestUrl: string, allowed: ReadonlySet<string>): boolean {
  if (origin === undefined) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false; // `null` included: it is not a URL
  }
  // Opaque origins (file:, data:, sandboxed pages) are `null` too, listed or not.
  if (parsed.origin === "null") return false;
  return parsed.host === new URL(requestUrl).host || allowed.has(parsed.origin);
}
