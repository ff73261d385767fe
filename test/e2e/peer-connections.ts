/**
 * What a page's RTCPeerConnections are doing, for the privacy tests and the
 * benchmarks alike: an init script that records every connection the page
 * makes (and its ICE candidate errors, such as a TURN server's 401), and the
 * selected candidate pair of each connected one, from getStats.
 */
import type { Page } from "playwright-core";

declare global {
  interface Window {
    pcs: RTCPeerConnection[];
    iceErrors: number[];
  }
}

/** For `page.addInitScript`, before the page loads anything. */
export const RECORD_PEER_CONNECTIONS = `
  window.pcs = [];
  window.iceErrors = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.pcs.push(this);
      this.addEventListener("icecandidateerror", (event) => window.iceErrors.push(event.errorCode));
    }
  };
`;

export interface PathEnd {
  /** `host`, `srflx`, `prflx` or `relay`. */
  type: string;
  port: number;
}

/** The selected candidate pair of each of the page's connected peer connections. */
export function selectedPaths(page: Page): Promise<{ local: PathEnd; remote: PathEnd }[]> {
  return page.evaluate(async () => {
    const paths = await Promise.all(
      window.pcs
        .filter((pc) => pc.connectionState === "connected")
        .map(async (pc) => {
          const stats = await pc.getStats();
          let pairId = "";
          stats.forEach((report) => {
            if (report.type === "transport") pairId = report.selectedCandidatePairId;
          });
          const pair = stats.get(pairId);
          if (!pair) return null;
          const local = stats.get(pair.localCandidateId);
          const remote = stats.get(pair.remoteCandidateId);
          return {
            local: { type: String(local?.candidateType), port: Number(local?.port) },
            remote: { type: String(remote?.candidateType), port: Number(remote?.port) },
          };
        }),
    );
    return paths.filter((path) => path !== null);
  });
}
