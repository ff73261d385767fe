/**
 * How departures reach the others: a `leave` at once, a closed tab (no
 * leave) once the resume grace period has passed; and what a bad network
 * does to one peer's signaling. The server runs with a two-second grace
 * period.
 */
import { expect, it } from "vitest";
import { describeWithBrowser, useStack } from "./browser";
import { connectedTo, joinWithLibrary, type MeshPeer } from "./mesh-harness";
import { SignalingTap, until } from "./tap";

const GRACE_SECONDS = 2;

describeWithBrowser("departures", () => {
  const stack = useStack({ vars: { RESUME_GRACE_SECONDS: String(GRACE_SECONDS) } });

  async function trio(room: string): Promise<MeshPeer[]> {
    const peers = await Promise.all(
      ["Ann", "Bob", "Cy"].map((name) => joinWithLibrary(stack.browser, stack.server.url, room, name)),
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

  const signalingStates = (peer: MeshPeer) =>
    peer.page.evaluate(() => window.mesh.events.filter((e) => e.type === "signaling").map((e) => e.detail.state));

  it("still tells everyone at once when a peer leaves while its signaling is reconnecting", async () => {
    let tap: SignalingTap | undefined;
    const ann = await joinWithLibrary(stack.browser, stack.server.url, "leave-offline", "Ann", async (page) => {
      tap = await SignalingTap.install(page, "leave-offline");
    });
    const bob = await joinWithLibrary(stack.browser, stack.server.url, "leave-offline", "Bob");
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    if (!tap) throw new Error("no tap");
    tap.refuse = true;
    await tap.cut();
    await ann.page.waitForFunction(() => window.mesh.room.signalingState === "reconnecting");
    tap.refuse = false;
    const leftAt = await ann.page.evaluate(() => {
      window.mesh.room.leave();
      return Date.now();
    });
    // Well inside the two-second grace period: the room heard the leave.
    const seenAt = await seenLeaving(bob, ann.id, 1_000);
    expect(seenAt - leftAt).toBeLessThan(1_000);
  });

  const joinsSeen = (peer: MeshPeer) =>
    peer.page.evaluate(() =>
      window.mesh.events.filter((e) => e.type === "peer-join").map((e) => (e.detail.peer as { id: string }).id),
    );

  it("leaves no phantom behind when it leaves while a resume is in flight", async () => {
    let tap: SignalingTap | undefined;
    const ann = await joinWithLibrary(stack.browser, stack.server.url, "leave-resuming", "Ann", async (page) => {
      tap = await SignalingTap.install(page, "leave-resuming");
    });
    const bob = await joinWithLibrary(stack.browser, stack.server.url, "leave-resuming", "Bob");
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    if (!tap) throw new Error("no tap");
    const signaling = tap;
    // The resume reaches the room, which takes its token and rotates it, but its welcome is held back.
    signaling.hold = true;
    await signaling.cut();
    await until(() => signaling.held.length > 0, 10_000);
    signaling.hold = false;
    const leftAt = await ann.page.evaluate(() => {
      window.mesh.room.leave();
      return Date.now();
    });
    signaling.release();
    const seenAt = await seenLeaving(bob, ann.id, (GRACE_SECONDS + 10) * 1_000);
    // Nobody but Ann ever joined: no socket presented the used token and came in as a newcomer.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await joinsSeen(bob)).toEqual([ann.id]);
    expect(await bob.page.evaluate(() => window.mesh.room.peers.size)).toBe(0);
    expect(signaling.connections).toBe(2);
    // Well inside the two-second grace period: the room heard the leave, on the resumed socket.
    expect(seenAt - leftAt).toBeLessThan(1_000);
  });

  it("says so, and lets go of everyone, when another tab takes over its place in the room", async () => {
    let tap: SignalingTap | undefined;
    const ann = await joinWithLibrary(stack.browser, stack.server.url, "replaced", "Ann", async (page) => {
      tap = await SignalingTap.install(page, "replaced");
    });
    const bob = await joinWithLibrary(stack.browser, stack.server.url, "replaced", "Bob");
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    const token = tap?.resume;
    if (!tap || !token) throw new Error("no resume token seen");
    // A second tab with the same state resumes Ann: the room closes her socket with 4002.
    const other = await ann.page.context().newPage();
    await other.goto(`${stack.server.url}/`);
    await other.evaluate(
      (url) => void new WebSocket(url),
      `${stack.server.url.replace(/^http/, "ws")}/r/replaced/ws?resume=${token}`,
    );
    await ann.page.waitForFunction(() => window.mesh.room.signalingState === "closed");
    const errors = await ann.page.evaluate(() =>
      window.mesh.events.filter((e) => e.type === "error").map((e) => e.detail),
    );
    expect(errors).toEqual([expect.objectContaining({ code: "replaced" })]);
    expect(await ann.page.evaluate(() => window.mesh.room.peers.size)).toBe(0);
    // Final: it does not fight the other tab for the place.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(tap.connections).toBe(1);
  });

  it("abandons a socket whose pong stops coming, and resumes on a new one", async () => {
    let tap: SignalingTap | undefined;
    const ann = await joinWithLibrary(stack.browser, stack.server.url, "dead-socket", "Ann", async (page) => {
      tap = await SignalingTap.install(page, "dead-socket");
    });
    const bob = await joinWithLibrary(stack.browser, stack.server.url, "dead-socket", "Bob");
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    if (!tap) throw new Error("no tap");
    tap.swallowPings = true; // the socket stays open, but answers nothing any more
    await ann.page.waitForFunction(() => window.mesh.room.signalingState === "reconnecting", null, { timeout: 20_000 });
    tap.swallowPings = false;
    await ann.page.waitForFunction(() => window.mesh.room.signalingState === "connected", null, { timeout: 20_000 });
    expect(tap.connections).toBe(2);
    expect(await ann.page.evaluate(() => window.mesh.room.id)).toBe(ann.id);
    expect(await signalingStates(ann)).toEqual(["connected", "reconnecting", "connected"]);
    // The call never noticed.
    expect(await bob.page.evaluate(() => window.mesh.events.filter((e) => e.type === "peer-leave").length)).toBe(0);
    await ann.page.evaluate(() => window.mesh.room.send("after the dead socket"));
    await bob.page.waitForFunction(() => window.mesh.messages.some((m) => m.data === "after the dead socket"));
  });

  it("rejoins cleanly as a newcomer when the room forgot it during a long outage", async () => {
    let tap: SignalingTap | undefined;
    const ann = await joinWithLibrary(stack.browser, stack.server.url, "forgotten", "Ann", async (page) => {
      tap = await SignalingTap.install(page, "forgotten");
    });
    const others = await Promise.all(
      ["Bob", "Cy"].map((name) => joinWithLibrary(stack.browser, stack.server.url, "forgotten", name)),
    );
    await Promise.all([ann, ...others].map((peer) => connectedTo(peer, 2)));
    if (!tap) throw new Error("no tap");
    tap.refuse = true;
    await tap.cut();
    // The room expires Ann after the grace period; the others let her go.
    for (const other of others) await seenLeaving(other, ann.id, (GRACE_SECONDS + 10) * 1_000);
    tap.refuse = false;
    await ann.page.waitForFunction((old) => window.mesh.room.id !== null && window.mesh.room.id !== old, ann.id, {
      timeout: 20_000,
    });
    const newId = await ann.page.evaluate(() => window.mesh.room.id);
    await Promise.all([ann, ...others].map((peer) => connectedTo(peer, 2)));
    for (const other of others) {
      expect(await other.page.evaluate(() => [...window.mesh.room.peers.keys()])).toContain(newId);
    }
    // Ann let go of her old connections before offering anew.
    const annLeaves = await ann.page.evaluate(() => window.mesh.events.filter((e) => e.type === "peer-leave").length);
    expect(annLeaves).toBe(2);
  });
});
