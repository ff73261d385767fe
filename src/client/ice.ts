/**
 * Relay-only privacy in the browser: which ICE servers can relay, and the
 * second line of defence that keeps every address but the TURN relay's out of
 * what a page sends. `iceTransportPolicy: "relay"` is the first line; these
 * filters hold even if a browser gathers or writes more than that policy says.
 */
import type { IceServer } from "../protocol";

/** True when some server is a TURN server with credentials, so a relay-only peer can connect. */
export function canRelay(servers: readonly IceServer[]): boolean {
  return servers.some(
    (server) =>
      server.username !== undefined &&
      server.credential !== undefined &&
      [server.urls].flat().some((url) => /^turns?:/i.test(url)),
  );
}

/** A candidate a relay-only peer may send: `typ relay` only. End-of-candidates passes. */
export function isRelay(candidate: RTCIceCandidateInit | null): boolean {
  return !candidate?.candidate || / typ relay( |$)/.test(candidate.candidate);
}

/** A relay candidate without its related address: the peer's own address as the TURN server saw it. */
export function withoutRelatedAddress(candidate: RTCIceCandidateInit | null): RTCIceCandidateInit | null {
  if (!candidate?.candidate) return candidate;
  return { ...candidate, candidate: candidate.candidate.replace(/ raddr \S+ rport \d+/, " raddr 0.0.0.0 rport 0") };
}

/**
 * An SDP a relay-only peer may send: no candidate lines (relay candidates
 * trickle on their own, filtered above), and no default candidate: every
 * connection address unspecified, every media port the placeholder 9, no
 * `a=rtcp` line. Line endings stay as they were.
 */
export function scrubSdp(sdp: string): string {
  return sdp
    .split(/(?<=\n)/)
    .filter((line) => !/^a=(candidate|rtcp):/.test(line))
    .map((line) =>
      line
        .replace(/^c=IN IP4 [^\r\n]+/, "c=IN IP4 0.0.0.0")
        .replace(/^c=IN IP6 [^\r\n]+/, "c=IN IP6 ::")
        .replace(/^(m=\S+ )\d+/, (_, media: string) => `${media}9`),
    )
    .join("");
}
