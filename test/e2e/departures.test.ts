/**
 * How departures reach the others: a `leave` at once, a closed tab (no
 * leave) once the resume grace period has passed. The server runs with a
 * two-second grace period.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithBrowser, launchBrowser } from "./browser";
import { connectedTo, joinWithLibrary, type MeshPeer } from "./mesh-harness";
import { DevServer } from "./server";

const GRACE_SECONDS = 2;

describeWithBrowser("departures", () => {
  let server: DevServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      DevServer.start({ RESUME_GRACE_SECONDS: String(GRACE_SECONDS) }),
      launchBrowser(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function trio(room: string): Promise<MeshPeer[]> {
    const peers = await Promise.all(
      ["Ann", "Bob", "Cy"].map((name) => joinWithLibrary(browser, server.url, room, name)),
    );
    await Promise.all(peers.map((peer) => connectedTo(peer, 2)));
    return peers;
  }

  /** Resolves on this page when `id` is gone from its peers, with the time it happened. */
  function seenLeaving(peer: MeshPeer, id: string, timeout: number): Promise<number> {
    return peer.page
      .waitForFunction(
        (gone) =>
          window.mesh.events.find((e) => e.type === "peer-leave" && (e.detail.peer as { id: string }).id === gone)?.at,
        id,
        { timeout },
      )
      .then((handle) => handle.jsonValue() as Promise<number>);
  }

  it("shows a peer that leaves to everyone within a second", async () => {
    const [ann, bob, cy] = await trio("leave-now");
    if (!ann || !bob || !cy) throw new Error("three peers expected");
    const leftAt = await ann.page.evaluate(() => {
      window.mesh.room.leave();
      return Date.now();
    });
    for (const other of [bob, cy]) {
      const seenAt = await seenLeaving(other, ann.id, 1_000);
      expect(seenAt - leftAt).toBeLessThan(1_000);
      expect(await other.page.evaluate((id) => window.mesh.room.peers.has(id), ann.id)).toBe(false);
    }
    expect(await ann.page.evaluate(() => window.mesh.room.signalingState)).toBe("closed");
  });

  it("shows a closed tab to everyone once the grace period has passed", async () => {
    const [ann, bob, cy] = await trio("tab-closed");
    if (!ann || !bob || !cy) throw new Error("three peers expected");
    const closedAt = Date.now();
    await ann.page.context().close(); // no leave: the socket just goes away
    for (const other of [bob, cy]) {
      const seenAt = await seenLeaving(other, ann.id, (GRACE_SECONDS + 10) * 1_000);
      expect(seenAt - closedAt).toBeGreaterThanOrEqual(GRACE_SECONDS * 1_000);
    }
  });
});
