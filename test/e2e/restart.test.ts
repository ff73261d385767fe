/**
 * Restarts mid-call. The server's: `wrangler dev` stops while peers are
 * connected, they keep talking peer to peer, and once it is back their
 * signaling resumes with the same ids and a newcomer connects to everyone.
 * And an ICE restart offered into a peer's half-open signaling socket: the
 * offer is lost; on resuming, that peer says its last answer again, which
 * must not be taken for the answer to the newer offer, and which tells the
 * offerer to say its offer again.
 */
import { expect, it } from "vitest";
import { describeWithBrowser, useStack } from "./browser";
import { connectedTo, joinWithLibrary, type MeshPeer } from "./mesh-harness";
import { SignalingTap, until } from "./tap";
import { RECORD_WIRE } from "./wire-harness";

describeWithBrowser("server restart mid-call", () => {
  const stack = useStack();

  const signaling = (peer: MeshPeer) => peer.page.evaluate(() => window.mesh.room.signalingState);
  const waitSignaling = (peer: MeshPeer, state: string) =>
    peer.page.waitForFunction((s) => window.mesh.room.signalingState === s, state, { timeout: 30_000 });

  it("keeps the call up while the server is down, then resumes signaling with the same ids", async () => {
    const peers = await Promise.all(
      ["Ann", "Bob", "Cy"].map((name) => joinWithLibrary(stack.browser, stack.server.url, "restart", name)),
    );
    await Promise.all(peers.map((peer) => connectedTo(peer, 2)));
    const [ann, bob, cy] = peers;
    if (!ann || !bob || !cy) throw new Error("three peers expected");

    await stack.server.stop();
    await Promise.all(peers.map((peer) => waitSignaling(peer, "reconnecting")));

    // Peer to peer, nothing needs the server.
    await ann.page.evaluate(() => window.mesh.room.send("while the server is down"));
    await bob.page.evaluate(() => window.mesh.room.send("still talking"));
    for (const peer of [bob, cy]) {
      await peer.page.waitForFunction(() => window.mesh.messages.some((m) => m.data === "while the server is down"));
    }
    await cy.page.waitForFunction(() => window.mesh.messages.some((m) => m.data === "still talking"));
    for (const peer of peers) expect(await signaling(peer)).toBe("reconnecting");

    await stack.server.start();
    await Promise.all(peers.map((peer) => waitSignaling(peer, "connected")));
    for (const peer of peers) {
      expect(await peer.page.evaluate(() => window.mesh.room.id)).toBe(peer.id);
      const states = await peer.page.evaluate(() =>
        window.mesh.events.filter((e) => e.type === "signaling").map((e) => e.detail.state),
      );
      expect(states).toEqual(["connected", "reconnecting", "connected"]);
      // Nobody left: the mesh never noticed the restart.
      expect(await peer.page.evaluate(() => window.mesh.events.filter((e) => e.type === "peer-leave").length)).toBe(0);
    }

    const dee = await joinWithLibrary(stack.browser, stack.server.url, "restart", "Dee");
    await Promise.all([...peers, dee].map((peer) => connectedTo(peer, 3)));
    const roster = await dee.page.evaluate(() => [...window.mesh.room.peers.keys()].sort());
    expect(roster).toEqual(peers.map((peer) => peer.id).sort());
  });

  it("answers an ICE restart offered into a half-open socket, once resumed, with the peer's new credentials", async () => {
    let tap: SignalingTap | undefined;
    const ann = await joinWithLibrary(stack.browser, stack.server.url, "restart-away", "Ann", async (page) => {
      await page.addInitScript(RECORD_WIRE);
      tap = await SignalingTap.install(page, "restart-away");
    });
    const bob = await joinWithLibrary(stack.browser, stack.server.url, "restart-away", "Bob", (page) =>
      page.addInitScript(RECORD_WIRE),
    );
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    if (!tap) throw new Error("no tap");
    /** The ICE usernames in a connection's local or remote description. */
    const ufrags = (peer: MeshPeer, side: "local" | "remote") =>
      peer.page.evaluate((side) => {
        const pc = window.wire.pcs.at(-1);
        const sdp = (side === "local" ? pc?.localDescription : pc?.remoteDescription)?.sdp ?? "";
        return [...new Set(sdp.match(/^a=ice-ufrag:\S+/gm))];
      }, side);
    const stable = (peer: MeshPeer) =>
      peer.page.waitForFunction(() => window.wire.pcs.at(-1)?.signalingState === "stable", null, { timeout: 30_000 });
    await Promise.all([stable(ann), stable(bob)]);
    const annBefore = await ufrags(ann, "local");

    // Bob, the newcomer, restarts ICE while Ann's socket is half-open: the room sends her his offer, and it is lost.
    tap.deaf = true;
    await bob.page.evaluate(() => window.wire.pcs.at(-1)?.restartIce());
    await bob.page.waitForFunction(() => window.wire.pcs.at(-1)?.signalingState === "have-local-offer");
    const lost = tap.lost;
    await until(() => lost.some((frame) => frame.includes('"type":"offer"')), 20_000);
    // Ann finds her socket dead and resumes on a new one.
    tap.refuse = true;
    await tap.cut();
    await ann.page.waitForFunction(() => window.mesh.room.signalingState === "reconnecting");
    tap.deaf = false;
    tap.refuse = false;
    // Resumed, Ann says her last answer again; Bob says his offer again, and Ann answers it with new credentials.
    await ann.page.waitForFunction(() => window.mesh.room.signalingState === "connected", null, { timeout: 30_000 });
    await ann.page.waitForFunction(
      (old) =>
        window.wire.pcs.at(-1)?.signalingState === "stable" &&
        !window.wire.pcs.at(-1)?.localDescription?.sdp.includes(old),
      annBefore[0] ?? "",
      { timeout: 30_000 },
    );
    await stable(bob);
    expect(await ufrags(ann, "local")).not.toEqual(annBefore);
    expect(await ufrags(bob, "remote")).toEqual(await ufrags(ann, "local"));
    expect(await ufrags(ann, "remote")).toEqual(await ufrags(bob, "local"));
    await bob.page.evaluate(() => window.mesh.room.send("after the restart"));
    await ann.page.waitForFunction(() => window.mesh.messages.some((m) => m.data === "after the restart"));
  });
});
