/** Human-readable sizes and times. */

const UNITS = ["B", "KB", "MB", "GB", "TB"] as const;
/** Made once: a transfer formats its sizes with every progress step, and `toLocaleString` makes a formatter per call. */
const WHOLE = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const TENTHS = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const format = unit === 0 || value >= 100 ? WHOLE : TENTHS;
  return `${format.format(value)} ${UNITS[unit]}`;
}

/** HH:MM in the user's locale and time zone. */
export function formatTime(date: Date): string {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function percent(loaded: number, total: number): number {
  if (total <= 0) return 100;
  return Math.min(100, Math.floor((loaded / total) * 100));
}

/**
 * A file name as a person should see it (and save it): invisible formatting
 * (bidi overrides, zero-width characters), control characters and line
 * separators become "�", so "invoice\u202Efdp.exe" cannot pass for a PDF.
 * Display names need no such care: the room refuses them.
 */
export function visibleFileName(name: string): string {
  return name.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, "\uFFFD") || "file";
}

/** "Anonymous" stands in for a missing name. */
export function displayName(name: string | null | undefined): string {
  return name ? name : "Anonymous";
}

/** A stable avatar colour class for an id. */
export function avatarClass(id: string): string {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return `avatar-${hash % 8}`;
}

export function initial(name: string | null | undefined): string {
  const first = name ? [...name.trim()][0] : undefined;
  return first ?? "?";
}
