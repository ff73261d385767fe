/**
 * Private rooms end to end: real Chromium, a real `wrangler dev` that issues
 * TURN REST credentials, and a real coturn on loopback. Relay-only peers show
 * each other nothing but relay addresses; keyed rooms show the server nothing
 * but ciphertext; credentials expire and are renewed in time.
 */
import { createHmac } from "node:crypto";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
// The library's own key generator: pure WebCrypto, the same in Node as in a page.
import { generateKey } from "../../src/client/seal";
import { describeWithBrowser, Stack } from "./browser";
import { connectedTo, formationTime, joinWithLibrary, type MeshPeer } from "./mesh-harness";
import { RECORD_PEER_CONNECTIONS, selectedPaths } from "./peer-connections";
import { Coturn, hasCoturn, TURNSERVER_PATH } from "./turn";

/** Short, so that one test can outlive a credential. */
const TTL_SECONDS = 8;

interface Recorded {
  /** Text frames the page sent on its signaling socket. */
  sent: string[];
  /** Text frames the page received on it. */
  received: string[];
}

/** Prepares a page: records its peer connections and its signaling frames in both directions. */
function recorder(): { recorded: Recorded; prepare: (page: Page) => Promise<void> } {
  const recorded: Recorded = { sent: [], received: [] };
  const prepare = async (page: Page) => {
    page.on("websocket", (socket) => {
      socket.on("framesent", ({ payload }) => recorded.sent.push(String(payload)));
      socket.on("framereceived", ({ payload }) => recorded.received.push(String(payload)));
    });
    await page.addInitScript(RECORD_PEER_CONNECTIONS);
  };
  return { recorded, prepare };
}

/** Frames of one type among `frames`, parsed. */
function framesOf(frames: string[], type: string): Record<string, unknown>[] {
  return frames
    .filter((frame) => frame.startsWith("{"))
    .map((frame) => JSON.parse(frame) as Record<string, unknown>)
    .filter((frame) => frame.type === type);
}

/** Resolves with the `error` events of `code` the page has seen, once there are `count`. */
async function errorsOf(peer: MeshPeer, code: string, count: number): Promise<Record<string, unknown>[]> {
  await peer.page.waitForFunction(
    ({ code, count }) => window.mesh.events.filter((e) => e.type === "error" && e.detail.code === code).length >= count,
    { code, count },
  );
  return peer.page.evaluate(
    (code) => window.mesh.events.filter((e) => e.type === "error" && e.detail.code === code).map((e) => e.detail),
    code,
  );
}

/** Leaves the room, so coturn frees the page's allocations at once, then closes the page. */
async function leave(peer: MeshPeer): Promise<void> {
  await peer.page.evaluate(() => window.mesh.room.leave());
  await peer.page.context().close();
}

async function say(from: MeshPeer, to: MeshPeer, text: string): Promise<void> {
  await from.page.evaluate(({ to, text }) => window.mesh.room.send(text, to), { to: to.id, text });
  await to.page.waitForFunction((text) => window.mesh.messages.some((m) => m.data === text), text);
}

describeWithBrowser("private rooms in Chromium, through a real coturn", () => {
  let turn: Coturn | null = null;
  const stack = new Stack();
  beforeAll(async () => {
    turn = await Coturn.start();
    await stack.start({
      vars: { TURN_URLS: turn.url, TURN_SECRET: turn.secret, TURN_TTL_SECONDS: String(TTL_SECONDS) },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await turn?.stop();
  });

  const join = (room: string, name: string, options: { relay?: boolean; key?: string } = {}) => {
    const { recorded, prepare } = recorder();
    return joinWithLibrary(stack.browser, stack.server.url, room, name, prepare, options).then((peer) => ({
      ...peer,
      recorded,
    }));
  };

  it("connects relay-only peers relay to relay, and no page sends any address but its relay's", async () => {
    const ann = await join("relay-pair", "Ann", { relay: true });
    const bob = await join("relay-pair", "Bob", { relay: true });
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    await say(ann, bob, "through the relay");
    for (const peer of [ann, bob]) {
      for (const path of await selectedPaths(peer.page)) {
        expect(path).toMatchObject({ local: { type: "relay" }, remote: { type: "relay" } });
      }
      const candidates = framesOf(peer.recorded.sent, "candidate")
        .map((frame) => (frame.candidate as { candidate?: string } | null)?.candidate ?? "")
        .filter((line) => line !== "");
      expect(candidates.length).toBeGreaterThan(0);
      for (const line of candidates) {
        expect(line).toMatch(/ typ relay /);
        expect(line).not.toMatch(/ raddr (?!0\.0\.0\.0 )/);
      }
      for (const frame of [...framesOf(peer.recorded.sent, "offer"), ...framesOf(peer.recorded.sent, "answer")]) {
        expect(frame.sdp).not.toMatch(/a=candidate:/);
        expect(frame.sdp).not.toMatch(/^c=IN IP4 (?!0\.0\.0\.0)/m);
      }
      expect(peer.recorded.sent.join("\n")).not.toMatch(/typ (host|srflx|prflx)/);
    }

    // The same pair's connect time, direct, in the same run.
    const carl = await join("direct-pair", "Carl");
    const dan = await join("direct-pair", "Dan");
    await Promise.all([connectedTo(carl, 1), connectedTo(dan, 1)]);
    const relayed = await formationTime([ann, bob]);
    const direct = await formationTime([carl, dan]);
    console.log(
      `relay-only pair connected in ${relayed} ms; direct pair ${direct} ms (${(relayed / direct).toFixed(2)}×)`,
    );
    for (const peer of [ann, bob, carl, dan]) await leave(peer);
  });

  it("gets nowhere with a forged or an expired TURN credential", async () => {
    if (!turn) throw new Error("no coturn");
    const bob = await join("bad-credential", "Bob", { relay: true });
    const past = Math.floor(Date.now() / 1000) - 60;
    const future = Math.floor(Date.now() / 1000) + 3600;
    const sign = (username: string, secret: string) => createHmac("sha1", secret).update(username).digest("base64");
    const credentials = [
      { name: "Forger", username: `${future}:forger`, credential: sign(`${future}:forger`, "not-the-secret") },
      { name: "Latecomer", username: `${past}:late`, credential: sign(`${past}:late`, turn.secret) },
    ];
    for (const { name, username, credential } of credentials) {
      const { recorded, prepare } = recorder();
      const peer = await joinWithLibrary(stack.browser, stack.server.url, "bad-credential", name, prepare, {
        relay: true,
        iceServers: [{ urls: turn.url, username, credential }],
      });
      // coturn refuses the allocation: 401 Unauthorized.
      await peer.page.waitForFunction(() => window.iceErrors.includes(401));
      await peer.page.waitForFunction(() => window.pcs.every((pc) => pc.iceGatheringState === "complete"));
      expect(recorded.sent.join("\n")).not.toMatch(/typ relay/);
      const states = await peer.page.evaluate(() => [...window.mesh.room.peers.values()].map((p) => p.state));
      expect(states).not.toContain("connected");
      await leave(peer);
    }
    await leave(bob);
  });

  it("seals every payload in a keyed room: peers connect and the server sees no SDP or candidate", async () => {
    const key = generateKey();
    const ann = await join("sealed", "Ann", { key });
    const bob = await join("sealed", "Bob", { key });
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    await say(bob, ann, "sealed hello");
    for (const peer of [ann, bob]) {
      const all = [...peer.recorded.sent, ...peer.recorded.received];
      const relayed = ["offer", "answer", "candidate"].flatMap((type) => framesOf(all, type));
      expect(relayed.length).toBeGreaterThanOrEqual(3);
      for (const frame of relayed)
        expect(Object.keys(frame).sort()).toEqual([frame.to ? "to" : "from", "sealed", "type"].sort());
      const wire = all.join("\n");
      for (const readable of [/v=0/, /a=fingerprint/, /candidate:/, /typ (host|srflx|relay)/, /"sdp"/, /ice-ufrag/]) {
        expect(wire).not.toMatch(readable);
      }
    }
    for (const peer of [ann, bob]) await leave(peer);
  });

  it("tells a peer with the wrong key, or none, that it does not match, and keeps the others connected", async () => {
    const key = generateKey();
    const ann = await join("mismatch", "Ann", { key });
    const bob = await join("mismatch", "Bob", { key });
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    const cy = await join("mismatch", "Cy", { key: generateKey() });
    const dee = await join("mismatch", "Dee");
    for (const peer of [ann, bob]) {
      const errors = await errorsOf(peer, "key-mismatch", 2);
      expect(errors.map((error) => error.peer).sort()).toEqual([cy.id, dee.id].sort());
    }
    // The odd ones out hear it too, from each peer that refused them, so they do not wait forever.
    expect((await errorsOf(cy, "key-mismatch", 3)).map((error) => error.peer).sort()).toEqual(
      [ann.id, bob.id, dee.id].sort(),
    );
    expect((await errorsOf(dee, "key-mismatch", 3)).map((error) => error.peer).sort()).toEqual(
      [ann.id, bob.id, cy.id].sort(),
    );
    await say(ann, bob, "still here");
    await say(bob, ann, "still here too");
    const annSees = await ann.page.evaluate(() => [...window.mesh.room.peers.values()].map((p) => [p.name, p.state]));
    expect(Object.fromEntries(annSees)).toEqual({ Bob: "connected", Cy: "failed", Dee: "failed" });
    for (const peer of [ann, bob, cy, dee]) await leave(peer);
  });

  it("renews TURN credentials before they expire, so a relayed call outlives them", async () => {
    const ann = await join("renewal", "Ann", { relay: true });
    const bob = await join("renewal", "Bob", { relay: true });
    await Promise.all([connectedTo(ann, 1), connectedTo(bob, 1)]);
    const username = () =>
      ann.page.evaluate(() => {
        const servers = window.pcs[0]?.getConfiguration().iceServers ?? [];
        return servers.find((server) => server.username)?.username ?? "";
      });
    const first = await username();
    const expiry = Number(first.split(":")[0]);
    expect(expiry).toBeGreaterThan(Date.now() / 1000);
    // Renewed in time, on the existing connection, without a new join.
    await ann.page.waitForFunction((first) => {
      const servers = window.pcs[0]?.getConfiguration().iceServers ?? [];
      return servers.some((server) => server.username && server.username !== first);
    }, first);
    // Past the first credential's expiry, a new relay allocation can only come from the renewed one.
    await ann.page.waitForFunction((expiry) => Date.now() / 1000 > expiry + 1, expiry, { timeout: 20_000 });
    const before = (await selectedPaths(ann.page))[0];
    await ann.page.evaluate(() => window.pcs[0]?.restartIce());
    await ann.page.waitForFunction(
      async (port) => {
        const stats = await window.pcs[0]?.getStats();
        let moved = false;
        stats?.forEach((report) => {
          if (report.type !== "transport") return;
          const pair = stats.get(report.selectedCandidatePairId);
          const local = pair && stats.get(pair.localCandidateId);
          moved = local?.candidateType === "relay" && local.port !== port;
        });
        return moved;
      },
      before?.local.port,
      { timeout: 20_000 },
    );
    await say(ann, bob, "after the first credential expired");
    await say(bob, ann, "still relayed");
    for (const peer of [ann, bob]) await leave(peer);
  });

  it("says relay-unavailable, and connects to nobody, in relay mode without a TURN server", async () => {
    const bob = await join("no-relay", "Bob");
    const { prepare } = recorder();
    const ann = await joinWithLibrary(stack.browser, stack.server.url, "no-relay", "Ann", prepare, {
      relay: true,
      iceServers: [{ urls: "stun:127.0.0.1:3478" }],
    });
    const [error] = await errorsOf(ann, "relay-unavailable", 1);
    expect(error?.message).toMatch(/TURN/);
    for (const peer of [ann, bob]) await leave(peer);
  });
}, [{ what: `coturn at ${TURNSERVER_PATH}`, present: hasCoturn, install: "apt-get install coturn" }]);
