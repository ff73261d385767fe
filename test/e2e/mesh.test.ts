/**
 * The mesh library itself in Chromium against wrangler dev: two and eight
 * peers, messages exactly once, files intact with progress (in frames as
 * large as the connection takes), and cancels from either side, also with
 * several receivers; what a receiver accepts (a type it does not trust, a
 * size and a number of files at once it bounds).
 */
import { expect, it } from "vitest";
import { describeWithBrowser, useStack } from "./browser";
import { connectedTo, formationTime, joinWithLibrary } from "./mesh-harness";

interface Received {
  name: string;
  size: number;
  digest: string;
  progressEvents: number;
  lastProgress: number;
}

declare global {
  interface Window {
    /** Set up by expectFile: settles with what the `file` event delivered. */
    received: Promise<Received>;
    /** The receiving side's transfer, once `file-start` fired. */
    incoming: import("../../src/client/mesh").Transfer | null;
    /** The sending side's transfer and how it ended. */
    outgoing: { transfer: import("../../src/client/mesh").Transfer; outcome: Promise<string> };
    /** Incoming transfers that ended, however. */
    ended: number;
  }
}

describeWithBrowser("the mesh library in Chromium", () => {
  const stack = useStack();

  it("connects two peers and carries messages both ways", async () => {
    const a = await joinWithLibrary(stack.browser, stack.server.url, "lib-two", "Ann");
    const b = await joinWithLibrary(stack.browser, stack.server.url, "lib-two", "Bob");
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    console.info(`2-peer mesh formed in ${await formationTime([a, b])} ms (first join to last peer-connect)`);
    await a.page.evaluate(() => window.mesh.room.send({ hi: "from a" }));
    await b.page.evaluate(() => window.mesh.room.send("from b"));
    await b.page.waitForFunction(() => window.mesh.messages.length === 1);
    await a.page.waitForFunction(() => window.mesh.messages.length === 1);
    expect(await b.page.evaluate(() => window.mesh.messages)).toEqual([{ from: a.id, data: { hi: "from a" } }]);
    expect(await a.page.evaluate(() => window.mesh.messages)).toEqual([{ from: b.id, data: "from b" }]);
  });

  it("forms the full mesh of eight peers joining at once, and delivers every message exactly once", async () => {
    const peers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        joinWithLibrary(stack.browser, stack.server.url, "lib-eight", `Peer ${i + 1}`),
      ),
    );
    await Promise.all(peers.map((peer) => connectedTo(peer, 7)));
    console.info(
      `8-peer mesh (28 connections) formed in ${await formationTime(peers)} ms (first join to last peer-connect)`,
    );
    await Promise.all(
      peers.map((peer) => peer.page.evaluate(() => window.mesh.room.send(`hello from ${window.mesh.room.id}`))),
    );
    for (const peer of peers) {
      await peer.page.waitForFunction(() => window.mesh.messages.length >= 7);
      const messages = await peer.page.evaluate(() => window.mesh.messages);
      const others = peers.filter((other) => other !== peer);
      expect(messages.map((m) => m.from).sort()).toEqual(others.map((other) => other.id).sort());
      for (const message of messages) expect(message.data).toBe(`hello from ${message.from}`);
    }
    // Nothing more arrives: a round of acknowledgements shows the channels are drained.
    await Promise.all(peers.map((peer) => peer.page.evaluate(() => window.mesh.room.send("end"))));
    for (const peer of peers) {
      await peer.page.waitForFunction(() => window.mesh.messages.filter((m) => m.data === "end").length === 7);
      expect(await peer.page.evaluate(() => window.mesh.messages.length)).toBe(14);
    }
    await Promise.all(peers.map((peer) => peer.page.context().close()));
  });

  /** On the receiving page: records progress and hashes the file that arrives. */
  async function expectFile(page: import("playwright-core").Page): Promise<void> {
    await page.evaluate(() => {
      window.incoming = null;
      window.received = new Promise((resolve) => {
        let progressEvents = 0;
        let lastProgress = 0;
        window.mesh.room.addEventListener("file-start", (event) => {
          const { transfer } = (event as CustomEvent<{ transfer: NonNullable<Window["incoming"]> }>).detail;
          window.incoming = transfer;
          transfer.addEventListener("progress", (progress) => {
            progressEvents += 1;
            lastProgress = (progress as CustomEvent<{ loaded: number }>).detail.loaded;
          });
        });
        window.mesh.room.addEventListener("file", async (event) => {
          const { name, size, blob } = (event as CustomEvent<{ name: string; size: number; blob: Blob }>).detail;
          const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
          const hex = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
          resolve({ name, size, digest: hex, progressEvents, lastProgress });
        });
      });
    });
  }

  /** Starts a 200 MiB transfer from the page to `to`; `window.outgoing` tracks it. */
  async function startLargeTransfer(page: import("playwright-core").Page, to: string): Promise<void> {
    await page.evaluate((to) => {
      const block = crypto.getRandomValues(new Uint8Array(64 * 1024));
      const file = new File(
        Array.from({ length: 16 * 200 }, () => block),
        "large.bin",
      );
      const transfer = window.mesh.room.sendFile(file, { to });
      window.outgoing = {
        transfer,
        outcome: transfer.done.then(
          () => "done",
          (error: Error) => error.message,
        ),
      };
    }, to);
  }

  it("sends a 50 MiB file intact, with progress on both sides", async () => {
    const a = await joinWithLibrary(stack.browser, stack.server.url, "lib-file", "Ann");
    const b = await joinWithLibrary(stack.browser, stack.server.url, "lib-file", "Bob");
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    await expectFile(b.page);
    const sent = await a.page.evaluate(async (to) => {
      const parts: Uint8Array<ArrayBuffer>[] = [];
      for (let i = 0; i < 50 * 16; i++) parts.push(crypto.getRandomValues(new Uint8Array(64 * 1024)));
      const file = new File(parts, "big.bin", { type: "application/octet-stream" });
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
      const started = performance.now();
      const transfer = window.mesh.room.sendFile(file, { to });
      let progressEvents = 0;
      transfer.addEventListener("progress", () => {
        progressEvents += 1;
      });
      await transfer.done;
      return {
        digest: Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join(""),
        progressEvents,
        state: transfer.state,
        ms: performance.now() - started,
      };
    }, b.id);
    const received = await b.page.evaluate(() => window.received);
    console.info(`50 MiB file sent in ${Math.round(sent.ms)} ms (${(50 / (sent.ms / 1000)).toFixed(1)} MiB/s)`);
    expect(sent.state).toBe("done");
    expect(received).toMatchObject({ name: "big.bin", size: 50 * 1024 * 1024, digest: sent.digest });
    expect(received.lastProgress).toBe(50 * 1024 * 1024);
    expect(received.progressEvents).toBeGreaterThan(10);
    expect(sent.progressEvents).toBeGreaterThan(10);
    await Promise.all([a.page.context().close(), b.page.context().close()]);
  });

  it("detects a file corrupted on the way, on both sides", async () => {
    const a = await joinWithLibrary(stack.browser, stack.server.url, "lib-corrupt", "Ann");
    const b = await joinWithLibrary(stack.browser, stack.server.url, "lib-corrupt", "Bob");
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    await expectFile(b.page);
    const outcome = await a.page.evaluate(async (to) => {
      // The network flips one byte of the fifth chunk of the file.
      const send = RTCDataChannel.prototype.send;
      let chunks = 0;
      RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: never) {
        const bytes = data as unknown;
        if (this.label.startsWith("file:") && bytes instanceof Uint8Array && ++chunks === 5) {
          const copy = bytes.slice();
          copy[100] = (copy[100] ?? 0) ^ 0xff;
          return send.call(this, copy);
        }
        return send.call(this, data);
      };
      const parts = Array.from({ length: 32 }, () => crypto.getRandomValues(new Uint8Array(64 * 1024)));
      const transfer = window.mesh.room.sendFile(new File(parts, "fragile.bin"), { to });
      return transfer.done.then(
        () => "done",
        (error: Error) => error.message,
      );
    }, b.id);
    expect(outcome).toBe("the file arrived corrupted");
    expect(await b.page.evaluate(() => window.incoming?.state)).toBe("failed");
    expect(await b.page.evaluate(() => window.mesh.events.some((e) => e.type === "file"))).toBe(false);
    await Promise.all([a.page.context().close(), b.page.context().close()]);
  });

  it("paces a large file by the channel's buffer, never queueing the file at once", async () => {
    const a = await joinWithLibrary(stack.browser, stack.server.url, "lib-pace", "Ann");
    const b = await joinWithLibrary(stack.browser, stack.server.url, "lib-pace", "Bob");
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    await expectFile(b.page);
    const peakBuffered = await a.page.evaluate(async (to) => {
      const send = RTCDataChannel.prototype.send;
      let peak = 0;
      RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: never) {
        if (this.label.startsWith("file:")) peak = Math.max(peak, this.bufferedAmount);
        return send.call(this, data);
      };
      const block = crypto.getRandomValues(new Uint8Array(64 * 1024));
      const file = new File(
        Array.from({ length: 16 * 48 }, () => block),
        "paced.bin",
      ); // 48 MiB
      await window.mesh.room.sendFile(file, { to }).done;
      return peak;
    }, b.id);
    expect((await b.page.evaluate(() => window.received)).size).toBe(48 * 1024 * 1024);
    // The high-water mark is 4 MiB; one frame (256 KiB between two Chromiums) may go on top of it.
    expect(peakBuffered).toBeGreaterThan(0);
    expect(peakBuffered).toBeLessThanOrEqual(4 * 1024 * 1024 + 256 * 1024);
    await Promise.all([a.page.context().close(), b.page.context().close()]);
  });

  it("sends frames as large as the connection takes, at most 256 KiB", async () => {
    const a = await joinWithLibrary(stack.browser, stack.server.url, "lib-frames", "Ann");
    const b = await joinWithLibrary(stack.browser, stack.server.url, "lib-frames", "Bob");
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    const largest = await a.page.evaluate(async (to) => {
      const send = RTCDataChannel.prototype.send;
      let largest = 0;
      RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: never) {
        const bytes: unknown = data;
        if (this.label.startsWith("file:") && bytes instanceof Uint8Array)
          largest = Math.max(largest, bytes.byteLength);
        return send.call(this, data);
      };
      const sizes: number[] = [];
      const file = new File(
        [crypto.getRandomValues(new Uint8Array(65_536)).buffer, new Uint8Array(2 * 1024 * 1024)],
        "frames.bin",
      );
      // Two Chromiums take 256 KiB messages; then a peer that says it takes 100,000 bytes.
      for (const takes of [null, 100_000]) {
        if (takes !== null) Object.defineProperty(RTCSctpTransport.prototype, "maxMessageSize", { get: () => takes });
        largest = 0;
        await window.mesh.room.sendFile(file, { to }).done;
        sizes.push(largest);
      }
      return sizes;
    }, b.id);
    expect(largest).toEqual([256 * 1024, 64 * 1024]);
    await Promise.all([a.page.context().close(), b.page.context().close()]);
  });

  it("keeps sending to the others when one of several receivers cancels", async () => {
    const [a, b, c] = await Promise.all(
      ["Ann", "Bob", "Cy"].map((name) => joinWithLibrary(stack.browser, stack.server.url, "lib-multi", name)),
    );
    if (!a || !b || !c) throw new Error("three peers expected");
    await Promise.all([a, b, c].map((peer) => connectedTo(peer, 2)));
    await expectFile(b.page);
    await expectFile(c.page);
    const digest = await a.page.evaluate(async () => {
      const parts: Uint8Array<ArrayBuffer>[] = [];
      for (let i = 0; i < 16 * 16; i++) parts.push(crypto.getRandomValues(new Uint8Array(64 * 1024)));
      const file = new File(parts, "shared.bin"); // 16 MiB
      const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
      const transfer = window.mesh.room.sendFile(file);
      window.outgoing = {
        transfer,
        outcome: transfer.done.then(
          () => "done",
          (error: Error) => error.message,
        ),
      };
      return Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
    });
    await c.page.waitForFunction(() => (window.incoming?.loaded ?? 0) > 0);
    await c.page.evaluate(() => window.incoming?.cancel());
    expect((await b.page.evaluate(() => window.received)).digest).toBe(digest);
    expect(await a.page.evaluate(() => window.outgoing.outcome)).toBe("done");
    expect(await c.page.evaluate(() => window.incoming?.state)).toBe("cancelled");
    await Promise.all([a, b, c].map((peer) => peer.page.context().close()));
  });

  it("stops the receiver when the sender cancels", async () => {
    const a = await joinWithLibrary(stack.browser, stack.server.url, "lib-sender-cancel", "Ann");
    const b = await joinWithLibrary(stack.browser, stack.server.url, "lib-sender-cancel", "Bob");
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    await expectFile(b.page);
    await startLargeTransfer(a.page, b.id);
    await b.page.waitForFunction(() => (window.incoming?.loaded ?? 0) > 0);
    await a.page.evaluate(() => window.outgoing.transfer.cancel());
    await b.page.waitForFunction(() => window.incoming?.state === "cancelled");
    expect(await a.page.evaluate(() => window.outgoing.transfer.state)).toBe("cancelled");
    await Promise.all([a.page.context().close(), b.page.context().close()]);
  });

  it("frees both sides when the receiver cancels a transfer", async () => {
    const a = await joinWithLibrary(stack.browser, stack.server.url, "lib-cancel", "Ann");
    const b = await joinWithLibrary(stack.browser, stack.server.url, "lib-cancel", "Bob");
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    await expectFile(b.page);
    await startLargeTransfer(a.page, b.id);
    await b.page.waitForFunction(() => (window.incoming?.loaded ?? 0) > 0);
    await b.page.evaluate(() => window.incoming?.cancel());
    expect(await a.page.evaluate(() => window.outgoing.outcome)).toBe("the receiver cancelled");
    const sender = await a.page.evaluate(() => ({
      state: window.outgoing.transfer.state,
      loaded: window.outgoing.transfer.loaded,
    }));
    const receiver = await b.page.evaluate(() => ({
      state: window.incoming?.state,
      loaded: window.incoming?.loaded ?? 0,
    }));
    expect(sender.state).toBe("cancelled");
    expect(receiver.state).toBe("cancelled");
    expect(sender.loaded).toBeLessThan(200 * 1024 * 1024);
    // The sender stopped reading, and the peers still talk.
    await a.page.evaluate(() => window.mesh.room.send("still here"));
    await b.page.waitForFunction(() => window.mesh.messages.some((m) => m.data === "still here"));
    expect(await a.page.evaluate(() => window.outgoing.transfer.loaded)).toBe(sender.loaded);
    expect(await b.page.evaluate(() => window.incoming?.loaded)).toBe(receiver.loaded);
    await Promise.all([a.page.context().close(), b.page.context().close()]);
  });
  it("hands out a received file as application/octet-stream, whatever type its sender declared", async () => {
    const a = await joinWithLibrary(stack.browser, stack.server.url, "lib-type", "Ann");
    const b = await joinWithLibrary(stack.browser, stack.server.url, "lib-type", "Bob");
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    const received = b.page.evaluate(
      () =>
        new Promise<{ type: string; blobType: string; text: string }>((resolve) => {
          window.mesh.room.addEventListener("file", async (event) => {
            const { type, blob } = (event as CustomEvent<{ type: string; blob: Blob }>).detail;
            resolve({ type, blobType: blob.type, text: await blob.text() });
          });
        }),
    );
    const page = "<script>document.title = 'ran'</script>";
    await a.page.evaluate(
      ({ to, page }) => window.mesh.room.sendFile(new File([page], "page.html", { type: "text/html" }), { to }).done,
      { to: b.id, page },
    );
    // The declared type is reported, as a claim; the bytes come as a download, never as a page to render.
    expect(await received).toEqual({ type: "text/html", blobType: "application/octet-stream", text: page });
    await Promise.all([a.page.context().close(), b.page.context().close()]);
  });

  it("refuses a file whose declared size is above maxFileSize, before any byte", async () => {
    const a = await joinWithLibrary(stack.browser, stack.server.url, "lib-max-size", "Ann");
    const b = await joinWithLibrary(stack.browser, stack.server.url, "lib-max-size", "Bob", undefined, {
      maxFileSize: 64 * 1024,
    });
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    const send = (size: number) =>
      a.page.evaluate(
        ({ to, size }) =>
          window.mesh.room.sendFile(new File([new Uint8Array(size)], "blob.bin"), { to }).done.then(
            () => "done",
            (error: Error) => error.message,
          ),
        { to: b.id, size },
      );
    expect(await send(64 * 1024 + 1)).toBe("the receiver cancelled");
    expect(await send(64 * 1024)).toBe("done"); // the limit itself is allowed
    const events = await b.page.evaluate(() => window.mesh.events.filter((e) => e.type !== "signaling"));
    const refusal = events.filter((e) => e.type === "error").map((e) => e.detail);
    expect(refusal).toEqual([expect.objectContaining({ code: "file-too-large", peer: a.id })]);
    // Only the allowed file ever started: the refused one was never a transfer.
    expect(events.filter((e) => e.type === "file-start").map((e) => e.detail.size)).toEqual([64 * 1024]);
    await Promise.all([a.page.context().close(), b.page.context().close()]);
  });

  it("refuses a ninth file at once from one peer, and takes more once the others end", async () => {
    const a = await joinWithLibrary(stack.browser, stack.server.url, "lib-max-files", "Ann");
    const b = await joinWithLibrary(stack.browser, stack.server.url, "lib-max-files", "Bob");
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    await b.page.evaluate(() => {
      window.ended = 0;
      window.mesh.room.addEventListener("file-start", (event) => {
        const { transfer } = (event as CustomEvent<{ transfer: EventTarget }>).detail;
        transfer.addEventListener("end", () => {
          window.ended += 1;
        });
      });
    });
    const refused = await a.page.evaluate(async (to) => {
      // Nine at once, large enough that none ends before the last header arrives.
      const block = new Uint8Array(64 * 1024);
      const transfers = Array.from({ length: 9 }, (_, i) =>
        window.mesh.room.sendFile(new File(Array(8 * 16).fill(block), `file-${i}.bin`), { to }),
      );
      const outcomes = transfers.map((transfer) =>
        transfer.done.then(
          () => "done",
          (error: Error) => error.message,
        ),
      );
      const first = await Promise.race(outcomes);
      for (const transfer of transfers) transfer.cancel();
      await Promise.all(outcomes);
      return first;
    }, b.id);
    expect(refused).toBe("the receiver cancelled");
    const events = await b.page.evaluate(() => window.mesh.events.filter((e) => e.type !== "signaling"));
    expect(events.filter((e) => e.type === "file-start")).toHaveLength(8);
    expect(events.filter((e) => e.type === "error").map((e) => e.detail)).toEqual([
      expect.objectContaining({ code: "too-many-files", peer: a.id }),
    ]);
    // The eight ended (cancelled): their places are free again.
    await b.page.waitForFunction(() => window.ended === 8);
    const next = await a.page.evaluate(
      (to) =>
        window.mesh.room.sendFile(new File(["after"], "after.txt"), { to }).done.then(
          () => "done",
          (error: Error) => error.message,
        ),
      b.id,
    );
    expect(next).toBe("done");
    await Promise.all([a.page.context().close(), b.page.context().close()]);
  });
});
