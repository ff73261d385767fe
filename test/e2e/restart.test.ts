/**
 * A server restart mid-call: `wrangler dev` stops while peers are connected,
 * they keep talking peer to peer, and once it is back their signaling resumes
 * with the same ids and a newcomer connects to everyone.
 */
import { expect, it } from "vitest";
import { describeWithBrowser, useStack } from "./browser";
import { connectedTo, joinWithLibrary, type MeshPeer } from "./mesh-harness";

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
});
