/**
 * Files that outlive their connection, in Chromium against wrangler dev and a
 * real coturn: a transfer whose path goes down (the relay stops answering)
 * completes once an ICE restart brings it back; one whose channel closes
 * midway goes on over a new channel from the last stored block; one whose
 * file changes on disk ends failed, never sending a mix of its versions; and
 * one whose receiver leaves ends failed at once, instead of waiting to resume.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeWithBrowser } from "./browser";
import { connectedTo, joinWithLibrary, type MeshPeer } from "./mesh-harness";
import { hasCoturn, TURNSERVER_PATH } from "./turn";
import { outcome, RECORD_WIRE, receivedAtLeast, sendRandomFile as send, useTurnStack, watch } from "./wire-harness";

const MiB = 1024 * 1024;
/** Blocks a sender may have unacknowledged (files.ts `WINDOW`): all it can have to send again after a resume. */
const WINDOW = 4;

/** Each message from the page to its disk worker (one per block written) goes 100 ms late. */
function slowDisk(peer: MeshPeer): Promise<void> {
  return peer.page.evaluate(() => {
    const post = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (
      this: Worker,
      ...args: [message: unknown, options?: Transferable[] | StructuredSerializeOptions]
    ) {
      setTimeout(() => Reflect.apply(post, this, args), 100);
    };
  });
}

describeWithBrowser("files across a reconnect", () => {
  const { stack, turn } = useTurnStack();

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
    const [ann, bob] = await pair("resume-ice", true);
    const mib = 24;
    const digest = await send(ann.page, bob.id, mib);
    await receivedAtLeast(bob.page, 4 * MiB);
    // The relay stops answering: nothing gets through, both ways, until it goes on.
    turn().child.kill("SIGSTOP");
    try {
      await ann.page.waitForFunction(() => window.wire.states.includes("reconnecting"), null, { timeout: 30_000 });
      await bob.page.waitForFunction(() => window.wire.restarts > 0, null, { timeout: 30_000 });
    } finally {
      turn().child.kill("SIGCONT");
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
    await slowDisk(bob);
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

  // The sender reads through a stream per 16 MiB, and Chromium looks for a change only when a read begins: a change
  // in the first segment is found when the second begins, one in the last only by the look once all is read.
  for (const [changedAt, sentAtMost] of [
    [2, 16],
    [18, 24],
  ] as const) {
    it(`ends failed on both sides, never resuming, when the file changes on disk after ${changedAt} MiB`, async () => {
      const [ann, bob] = await pair(`resume-unreadable-${changedAt}`, false);
      const dir = mkdtempSync(join(tmpdir(), "rendezvous-changing-"));
      const path = join(dir, "changing.bin");
      writeFileSync(path, randomBytes(24 * MiB));
      await ann.page.evaluate(() => {
        const input = document.createElement("input");
        input.type = "file";
        input.id = "changing-input";
        document.body.append(input);
      });
      await ann.page.locator("#changing-input").setInputFiles(path);
      // A slow disk keeps the transfer under way for seconds.
      await slowDisk(bob);
      await ann.page.evaluate((to) => {
        const file = (document.getElementById("changing-input") as HTMLInputElement).files?.[0];
        if (!file) throw new Error("no file picked");
        window.wire.outcome = window.mesh.room.sendFile(file, { to }).done.then(
          () => "done",
          (error: Error) => error.message,
        );
      }, bob.id);
      await receivedAtLeast(bob.page, changedAt * MiB);
      writeFileSync(path, randomBytes(24 * MiB)); // saved again while it is sent: as long, every byte new
      expect(await outcome(ann.page)).toBe("the file could not be read");
      await bob.page.waitForFunction(() => window.wire.incoming[0]?.state !== "active");
      expect(await bob.page.evaluate(() => window.wire.incoming[0]?.state)).toBe("cancelled");
      expect(await bob.page.evaluate(() => window.wire.fileChannels.length)).toBe(1);
      expect(await bob.page.evaluate(() => window.wire.received)).toEqual([]);
      // Found once the next segment begins: what was sent of the file is no more than its segment's end.
      expect(await ann.page.evaluate(() => window.wire.fileBytesSent)).toBeLessThanOrEqual(sentAtMost * MiB);
      rmSync(dir, { recursive: true });
      await Promise.all([ann.page.context().close(), bob.page.context().close()]);
    });
  }

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
