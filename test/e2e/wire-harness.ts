/**
 * What a page's connections and files do, for the tests of transfers and
 * connections that outlive a failure (files-resume, rebuild): an init script
 * that records every RTCPeerConnection, the file channels the page is given,
 * the file bytes it sends and its ICE restarts; and, once joined, its peer
 * states, incoming files (with their SHA-256) and remote tracks.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import type { Transfer } from "../../src/client/mesh";
import { Stack } from "./browser";
import { Coturn } from "./turn";

export interface Wire {
  /** Every RTCPeerConnection the page made, in order. */
  pcs: RTCPeerConnection[];
  /** Binary bytes the page sent on file channels. */
  fileBytesSent: number;
  /** File channels the page received (one per transfer, and one more per resume). */
  fileChannels: RTCDataChannel[];
  /** ICE restarts the page started. */
  restarts: number;
  /** Peer states the page saw, in order. */
  states: string[];
  incoming: Transfer[];
  received: { size: number; digest: string }[];
  /** How the page's last outgoing file ended: "done", or the reason it failed. */
  outcome?: Promise<string>;
  /** Remote tracks the page was given, and the streams it was told were removed. */
  tracks: MediaStreamTrack[];
  removed: number;
}

declare global {
  interface Window {
    wire: Wire;
  }
}

/** For `page.addInitScript`, before the page loads anything. */
export const RECORD_WIRE = `
  window.wire = { pcs: [], fileBytesSent: 0, fileChannels: [], restarts: 0, states: [], incoming: [], received: [], tracks: [], removed: 0 };
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    if (this.label.startsWith("file:") && typeof data !== "string") window.wire.fileBytesSent += data.byteLength;
    return send.call(this, data);
  };
  const restartIce = RTCPeerConnection.prototype.restartIce;
  RTCPeerConnection.prototype.restartIce = function () {
    window.wire.restarts += 1;
    return restartIce.call(this);
  };
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.wire.pcs.push(this);
      this.addEventListener("datachannel", ({ channel }) => {
        if (channel.label.startsWith("file:")) window.wire.fileChannels.push(channel);
      });
    }
  };
`;

/**
 * For `page.addInitScript`, after RECORD_WIRE: on each of the page's
 * connections, the first answer that brings media slots is lost with a
 * signaling socket that is dying, and a second later the page finds the
 * socket dead (as it does when its pong stops coming) and resumes. Whatever
 * that answer carried is up to the library to bring back.
 */
export const LOSE_MEDIA_ANSWERS = `{
  const send = WebSocket.prototype.send;
  const lost = new Set();
  WebSocket.prototype.send = function (data) {
    const answer = typeof data === "string" && data.includes('"type":"answer"') && data.includes("m=video");
    const connection = window.wire.pcs.length;
    if (!answer || lost.has(connection)) return send.call(this, data);
    lost.add(connection);
    setTimeout(() => {
      const onclose = this.onclose;
      this.onclose = null;
      this.close();
      onclose?.call(this, new CloseEvent("close", { code: 1006 }));
    }, 1000);
  };
}`;

/** After joining (with `window.mesh` from mesh-harness): records peer states, files and tracks. */
export function watch(page: Page): Promise<void> {
  return page.evaluate(() => {
    const hex = (bytes: ArrayBuffer) =>
      Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
    const { room } = window.mesh;
    room.addEventListener("peer-state", ({ detail }) => window.wire.states.push(detail.peer.state));
    room.addEventListener("file-start", ({ detail }) => window.wire.incoming.push(detail.transfer));
    room.addEventListener("track", ({ detail }) => window.wire.tracks.push(detail.track));
    room.addEventListener("stream-removed", () => {
      window.wire.removed += 1;
    });
    room.addEventListener("file", async ({ detail }) => {
      const digest = hex(await crypto.subtle.digest("SHA-256", await detail.blob.arrayBuffer()));
      window.wire.received.push({ size: detail.size, digest });
    });
  });
}

/** In the sending page: sends `mib` MiB of random bytes to `to`; resolves with their SHA-256. */
export function sendRandomFile(page: Page, to: string, mib: number): Promise<string> {
  return page.evaluate(
    async ({ to, mib }) => {
      const parts = Array.from({ length: mib * 16 }, () => crypto.getRandomValues(new Uint8Array(64 * 1024)));
      const file = new File(parts, "random.bin");
      const transfer = window.mesh.room.sendFile(file, { to });
      window.wire.outcome = transfer.done.then(
        () => "done",
        (error: Error) => error.message,
      );
      const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
      return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
    },
    { to, mib },
  );
}

/** Resolves once the receiving page's first incoming transfer has `bytes`. */
export function receivedAtLeast(page: Page, bytes: number): Promise<unknown> {
  return page.waitForFunction((bytes) => (window.wire.incoming[0]?.loaded ?? 0) >= bytes, bytes, { timeout: 60_000 });
}

/** How the page's last outgoing file ended. */
export const outcome = (page: Page) => page.evaluate(() => window.wire.outcome);

/** A suite's wrangler dev and Chromium, with a real coturn as the room's TURN server (resumed if a test paused it). */
export function useTurnStack(): { stack: Stack; turn: () => Coturn } {
  let turn: Coturn | null = null;
  const stack = new Stack();
  beforeAll(async () => {
    turn = await Coturn.start();
    await stack.start({ vars: { TURN_URLS: turn.url, TURN_SECRET: turn.secret } });
  });
  afterAll(async () => {
    turn?.child.kill("SIGCONT");
    await stack.stop();
    await turn?.stop();
  });
  return {
    stack,
    turn: () => {
      if (!turn) throw new Error("coturn has not started");
      return turn;
    },
  };
}
