/**
 * A failed connection to a peer still in the room is made anew, in Chromium
 * against wrangler dev and a real coturn: two relay-only peers lose their one
 * path (the relay stops answering) for longer than the give-up time, both
 * links fail, and the newcomer starts a second RTCPeerConnection, which the
 * other side answers with one of its own. The peer never leaves; chat comes
 * back both ways, a file in flight resumes over the new connection, and a
 * published stream is sent again over its media slots, even when the answer
 * that brings them is lost with a signaling socket.
 */
import { expect, it } from "vitest";
import { describeWithBrowser } from "./browser";
import { connectedTo, joinWithLibrary, type MeshPeer } from "./mesh-harness";
import { hasCoturn, TURNSERVER_PATH } from "./turn";
import { LOSE_MEDIA_ANSWERS, outcome, RECORD_WIRE, sendRandomFile as send, useTurnStack, watch } from "./wire-harness";

const MiB = 1024 * 1024;
/** How long a connection may be down before it fails (JoinOptions.giveUpMs): short, so the suite stays quick. */
const GIVE_UP_MS = 10_000;
/** Generous bounds for waits on a loaded machine. */
const WAIT = { timeout: 60_000 };

const pcCount = (peer: MeshPeer) => peer.page.evaluate(() => window.wire.pcs.length);
const states = (peer: MeshPeer) => peer.page.evaluate(() => window.wire.states);
const leaves = (peer: MeshPeer) =>
  peer.page.evaluate(() => window.mesh.events.filter((event) => event.type === "peer-leave").length);

describeWithBrowser("a failed connection made anew", () => {
  const { stack, turn } = useTurnStack();

  /**
   * Ann, then Bob (the newcomer, who makes the new connection), relay-only,
   * connected and watched; `annScripts` are init scripts for Ann's page only.
   */
  async function pair(room: string, annScripts: string[] = []): Promise<[MeshPeer, MeshPeer]> {
    const join = (name: string, scripts: string[]) =>
      joinWithLibrary(
        stack.browser,
        stack.server.url,
        room,
        name,
        async (page) => {
          for (const script of [RECORD_WIRE, ...scripts]) await page.addInitScript(script);
        },
        { relay: true, giveUpMs: GIVE_UP_MS },
      );
    const ann = await join("Ann", annScripts);
    const bob = await join("Bob", []);
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    await Promise.all([watch(ann.page), watch(bob.page)]);
    return [ann, bob];
  }

  /**
   * Stops the relay until Bob's link has failed and Bob has started a second
   * connection, then lets it go on: the new connection can come up.
   */
  async function outage(bob: MeshPeer): Promise<void> {
    turn().child.kill("SIGSTOP");
    try {
      await bob.page.waitForFunction(() => window.wire.states.includes("failed"), null, WAIT);
      await bob.page.waitForFunction(() => window.wire.pcs.length === 2, null, WAIT);
    } finally {
      turn().child.kill("SIGCONT");
    }
  }

  /** Both pages are connected again over their second connection. */
  async function rebuilt(ann: MeshPeer, bob: MeshPeer): Promise<void> {
    await Promise.all([connectedTo(ann, 1, WAIT.timeout), connectedTo(bob, 1, WAIT.timeout)]);
    for (const peer of [ann, bob]) {
      expect(await pcCount(peer)).toBe(2);
      expect(await peer.page.evaluate(() => window.wire.pcs.map((pc) => pc.connectionState))).toEqual([
        "closed",
        "connected",
      ]);
      expect(await leaves(peer)).toBe(0);
    }
    // The newcomer failed, started over and came back; the other side went along.
    const bobStates = await states(bob);
    expect(bobStates.slice(bobStates.lastIndexOf("failed"))).toEqual(["failed", "connecting", "connected"]);
    expect((await states(ann)).slice(-2)).toEqual(["connecting", "connected"]);
  }

  it("replaces a failed link with a new connection: peer-state comes back, chat flows both ways, nobody leaves", async () => {
    const [ann, bob] = await pair("rebuild-chat");
    await outage(bob);
    await rebuilt(ann, bob);
    const connects = (peer: MeshPeer) =>
      peer.page.evaluate(() => window.mesh.events.filter((event) => event.type === "peer-connect").length);
    expect(await connects(ann)).toBe(2);
    expect(await connects(bob)).toBe(2);

    await ann.page.evaluate(() => window.mesh.room.send("from Ann, after"));
    await bob.page.evaluate(() => window.mesh.room.send("from Bob, after"));
    await bob.page.waitForFunction(() => window.mesh.messages.some((m) => m.data === "from Ann, after"), null, WAIT);
    await ann.page.waitForFunction(() => window.mesh.messages.some((m) => m.data === "from Bob, after"), null, WAIT);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  }, 180_000);

  it("completes a file in flight across the new connection, over a second channel", async () => {
    const [ann, bob] = await pair("rebuild-file");
    const mib = 24;
    const digest = await send(ann.page, bob.id, mib);
    await bob.page.waitForFunction(() => (window.wire.incoming[0]?.loaded ?? 0) >= 4 * 1024 * 1024, null, WAIT);
    await outage(bob);
    await rebuilt(ann, bob);

    expect(await outcome(ann.page)).toBe("done");
    await bob.page.waitForFunction(() => window.wire.received.length === 1, null, WAIT);
    expect(await bob.page.evaluate(() => window.wire.received)).toEqual([{ size: mib * MiB, digest }]);
    // The first channel died with the old connection; the second, on the new one, carried the rest.
    const labels = await bob.page.evaluate(() => window.wire.fileChannels.map((channel) => channel.label));
    expect(labels).toHaveLength(2);
    expect(labels[1]).toBe(labels[0]);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  }, 180_000);

  it("sends a published stream again over the new connection's media slots", async () => {
    // On each connection, Ann's answer that brings the media slots is lost as her signaling drops. The slots are
    // negotiated once the connection is up (Ann asks with `want-media`, Bob offers them), so Bob waits for that
    // answer on a connection that works, and only Ann's resume can bring it.
    const [ann, bob] = await pair("rebuild-media", [LOSE_MEDIA_ANSWERS]);
    await ann.page.evaluate(async () => {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 160, height: 120 } });
      window.mesh.room.addStream(stream, { label: "camera" });
    });
    await bob.page.waitForFunction(() => window.wire.tracks.length === 1, null, WAIT);
    await outage(bob);
    await rebuilt(ann, bob);

    // The old connection's stream ended with it; the same camera arrives again on a new slot, and plays.
    await bob.page.waitForFunction(() => window.wire.tracks.length === 2 && window.wire.removed === 1, null, WAIT);
    expect(await bob.page.evaluate(() => window.wire.tracks.map((track) => track.readyState))).toEqual([
      "ended",
      "live",
    ]);
    await bob.page.waitForFunction(
      async () => {
        const stats = await window.wire.pcs[1]?.getStats();
        let frames = 0;
        stats?.forEach((report) => {
          if (report.type === "inbound-rtp" && report.kind === "video") frames += report.framesDecoded ?? 0;
        });
        return frames > 0;
      },
      null,
      WAIT,
    );
    // Both answers were lost indeed, and Ann's signaling came back from each drop.
    const signaling = await ann.page.evaluate(() =>
      window.mesh.events.filter((event) => event.type === "signaling").map((event) => event.detail.state),
    );
    expect(signaling).toEqual(["connected", "reconnecting", "connected", "reconnecting", "connected"]);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  }, 180_000);
}, [{ what: `coturn at ${TURNSERVER_PATH}`, present: hasCoturn, install: "apt-get install coturn" }]);
