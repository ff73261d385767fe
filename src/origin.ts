/**
 * Cross-site WebSocket hijacking defence. Browsers always send `Origin` on a
 * WebSocket upgrade; other clients usually do not, and are let through.
 */

/** Same host as the request, or listed exactly in ALLOWED_ORIGINS. `Origin: null` never passes. */
export function isAllowedOrigin(origin: string | undefined, requestUrl: string, allowed: ReadonlySet<string>): boolean {
  if (origin === undefined) return true;
  // An opaque origin arrives as `null`, which is not a URL: it is refused here, listed or not.
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  return parsed.host === new URL(requestUrl).host || allowed.has(parsed.origin);
}
