/**
 * Files that outlive their connection, in Chromium against wrangler dev and a
 * real coturn: a transfer whose path goes down (the relay stops answering)
 * completes once an ICE restart brings it back; one whose channel closes
 * midway goes on over a new channel from the last stored block; and one whose
 * receiver leaves ends failed at once, instead of waiting to resume.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Transfer } from "../../src/client/mesh";
import { describeWithBrowser, Stack } from "./browser";
import { connectedTo, joinWithLibrary, type MeshPeer } from "./mesh-harness";
import { Coturn, hasCoturn, TURNSERVER_PATH } from "./turn";

const MiB = 1024 * 1024;
/** Blocks a sender may have unacknowledged (files.ts `WINDOW`): all it can have to send again after a resume. */
const WINDOW = 4;

interface Wire {
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
  outcome?: Promise<string>;
}

declare global {
  interface Window {
    wire: Wire;
  }
}

/** Before the page loads: counts file bytes sent and ICE restarts, keeps the file channels it is given. */
const RECORD_WIRE = `
  window.wire = { fileBytesSent: 0, fileChannels: [], restarts: 0, states: [], incoming: [], received: [] };
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
      this.addEventListener("datachannel", ({ channel }) => {
        if (channel.label.startsWith("file:")) window.wire.fileChannels.push(channel);
      });
    }
  };
`;

/** After joining: records peer states and incoming files, with each arrival's SHA-256. */
function watch(page: Page): Promise<void> {
  return page.evaluate(() => {
    const hex = (bytes: ArrayBuffer) =>
      Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
    window.mesh.room.addEventListener("peer-state", ({ detail }) => window.wire.states.push(detail.peer.state));
    window.mesh.room.addEventListener("file-start", ({ detail }) => window.wire.incoming.push(detail.transfer));
    window.mesh.room.addEventListener("file", async ({ detail }) => {
      const digest = hex(await crypto.subtle.digest("SHA-256", await detail.blob.arrayBuffer()));
      window.wire.received.push({ size: detail.size, digest });
    });
  });
}

/** In the sending page: sends `mib` MiB of random bytes to `to`; resolves with their SHA-256. */
function send(page: Page, to: string, mib: number): Promise<string> {
  return page.evaluate(
    async ({ to, mib }) => {
      const parts = Array.from({ length: mib * 16 }, () => crypto.getRandomValues(new Uint8Array(64 * 1024)));
      const file = new File(parts, "resume.bin");
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
function receivedAtLeast(page: Page, bytes: number): Promise<unknown> {
  return page.waitForFunction((bytes) => (window.wire.incoming[0]?.loaded ?? 0) >= bytes, bytes, { timeout: 30_000 });
}

const outcome = (page: Page) => page.evaluate(() => window.wire.outcome);

describeWithBrowser("files across a reconnect", () => {
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

  /** Ann, then Bob (the newcomer, who runs ICE restarts), connected and watched. */
  async function pair(room: string, relay: boolean): Promise<[MeshPeer, MeshPeer]> {
    const join = (name: string) =>
      joinWithLibrary(stack.browser, stack.server.url, room, name, (page) => page.addInitScript(RECORD_WIRE), {
        relay,
      });
    const ann = await join("Ann");
    const bob = await join("Bob");
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    await Promise.all([watch(ann.page), watch(bob.page)]);
    return [ann, bob];
  }

  it("completes a transfer whose relayed path went down, once an ICE restart brings it back", async () => {
    if (!turn) throw new Error("no coturn");
    const [ann, bob] = await pair("resume-ice", true);
    const mib = 24;
    const digest = await send(ann.page, bob.id, mib);
    await receivedAtLeast(bob.page, 4 * MiB);
    // The relay stops answering: nothing gets through, both ways, until it goes on.
    turn.child.kill("SIGSTOP");
    try {
      await ann.page.waitForFunction(() => window.wire.states.includes("reconnecting"), null, { timeout: 30_000 });
      await bob.page.waitForFunction(() => window.wire.restarts > 0, null, { timeout: 30_000 });
    } finally {
      turn.child.kill("SIGCONT");
    }
    expect(await outcome(ann.page)).toBe("done");
    await bob.page.waitForFunction(() => window.wire.received.length === 1);
    expect(await bob.page.evaluate(() => window.wire.received)).toEqual([{ size: mib * MiB, digest }]);
    const states = await ann.page.evaluate(() => window.wire.states);
    expect(states.slice(-2)).toEqual(["reconnecting", "connected"]);
    const channels = await bob.page.evaluate(() => window.wire.fileChannels.length);
    console.info(`ICE restarts: ${await bob.page.evaluate(() => window.wire.restarts)}; file channels: ${channels}`);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });

  it("goes on over a new channel from the last stored block when the channel closes midway", async () => {
    const [ann, bob] = await pair("resume-channel", false);
    // A slow disk: blocks are still waiting to be stored when the channel closes, and stored after it reopens.
    await bob.page.evaluate(() => {
      const write = FileSystemWritableFileStream.prototype.write;
      FileSystemWritableFileStream.prototype.write = async function (this: FileSystemWritableFileStream, data) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return write.call(this, data);
      };
    });
    const mib = 24;
    const digest = await send(ann.page, bob.id, mib);
    await receivedAtLeast(bob.page, 8 * MiB);
    await bob.page.evaluate(() => window.wire.fileChannels[0]?.close());
    expect(await outcome(ann.page)).toBe("done");
    await bob.page.waitForFunction(() => window.wire.received.length === 1);
    expect(await bob.page.evaluate(() => window.wire.received)).toEqual([{ size: mib * MiB, digest }]);
    // A second channel carried the rest; at most the window was sent twice.
    expect(await bob.page.evaluate(() => window.wire.fileChannels.map((c) => c.label))).toEqual([
      expect.stringMatching(/^file:/),
      expect.stringMatching(/^file:/),
    ]);
    const sent = await ann.page.evaluate(() => window.wire.fileBytesSent);
    expect(sent).toBeGreaterThanOrEqual(mib * MiB);
    expect(sent).toBeLessThanOrEqual((mib + WINDOW) * MiB);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });

  it("ends failed on both sides, never resuming, when the file cannot be read midway", async () => {
    const [ann, bob] = await pair("resume-unreadable", false);
    // The file changes on disk while it is sent: the fifth read fails, as Chromium's would.
    const reason = await ann.page.evaluate(async (to) => {
      const read = Blob.prototype.arrayBuffer;
      let reads = 0;
      Blob.prototype.arrayBuffer = function (this: Blob) {
        if (++reads === 5) return Promise.reject(new DOMException("the file changed", "NotReadableError"));
        return read.call(this);
      };
      const parts = Array.from({ length: 16 * 16 }, () => new Uint8Array(64 * 1024));
      const transfer = window.mesh.room.sendFile(new File(parts, "changing.bin"), { to });
      return transfer.done.then(
        () => "done",
        (error: Error) => error.message,
      );
    }, bob.id);
    expect(reason).toBe("the file could not be read");
    await bob.page.waitForFunction(() => window.wire.incoming[0]?.state !== "active");
    expect(await bob.page.evaluate(() => window.wire.incoming[0]?.state)).toBe("cancelled");
    expect(await bob.page.evaluate(() => window.wire.fileChannels.length)).toBe(1);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });

  it("ends failed, not waiting to resume, when the receiver leaves midway", async () => {
    const [ann, bob] = await pair("resume-gone", false);
    await send(ann.page, bob.id, 64);
    await receivedAtLeast(bob.page, 4 * MiB);
    // The room tells the sender at once. A page that crashes instead is given up with its link, within 30 s.
    await bob.page.evaluate(() => window.mesh.room.leave());
    expect(await outcome(ann.page)).toBe("the connection closed during the transfer");
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });
}, [{ what: `coturn at ${TURNSERVER_PATH}`, present: hasCoturn, install: "apt-get install coturn" }]);
