/**
 * Across browsers: a Firefox page and a Chromium page in one room through
 * `/mesh.js`, against wrangler dev. They chat both ways over the data channel,
 * in an open room and in a keyed one (end-to-end encrypted signaling), with
 * each browser the offerer once.
 */
import type { Page } from "playwright-core";
import { expect, it } from "vitest";
import type { JoinOptions } from "../../src/client/mesh";
// The library's own key generator: pure WebCrypto, the same in Node as in a page.
import { generateKey } from "../../src/client/seal";
import { describeWithBrowser, firefoxRequirement, useStack } from "./browser";
import { type FirefoxBrowser, type FirefoxPage, openFirefoxPage } from "./firefox";
import { connectedTo, joinWithLibrary, type MeshPeer } from "./mesh-harness";
import { RECORD_PEER_CONNECTIONS } from "./peer-connections";

const CONNECT_WITHIN_MS = 15_000;

interface FirefoxPeer {
  page: FirefoxPage;
  id: string;
  /** Console and page errors of the page. */
  errors: string[];
}

/**
 * In the page: joins the room with the library, keeping the same log on
 * `window.mesh` as mesh-harness.ts does in Chromium; resolves with the peer id
 * once welcomed.
 */
function joinInPage({ room, name, options }: { room: string; name: string; options: JoinOptions }): Promise<string> {
  const mesh = window.meshLib.joinRoom(room, { ...options, name });
  window.mesh = { room: mesh, joinedAt: Date.now(), events: [], messages: [] };
  for (const type of ["peer-join", "peer-connect", "peer-leave", "signaling", "error"]) {
    mesh.addEventListener(type, (event) => {
      const detail = JSON.parse(JSON.stringify((event as CustomEvent<Record<string, unknown>>).detail));
      window.mesh.events.push({ type, at: Date.now(), detail });
    });
  }
  mesh.addEventListener("message", (event) => {
    window.mesh.messages.push((event as CustomEvent<{ from: string; data: unknown }>).detail);
  });
  return new Promise<string>((resolve) => {
    mesh.addEventListener("signaling", () => {
      if (mesh.signalingState === "connected" && mesh.id) resolve(mesh.id);
    });
  });
}

/** Opens a Firefox page on the landing page and joins `room` with the library, as joinWithLibrary does in Chromium. */
async function joinInFirefox(
  browser: FirefoxBrowser,
  base: string,
  room: string,
  name: string,
  options: JoinOptions = {},
): Promise<FirefoxPeer> {
  const { page, errors } = await openFirefoxPage(browser, `${base}/`);
  await page.evaluate(RECORD_PEER_CONNECTIONS);
  // A string, because the test bundler rewrites every import() it sees in the test's own code.
  await page.evaluate('import("/mesh.js").then((library) => { window.meshLib = library; })');
  const id = await page.evaluate(joinInPage, { room, name, options });
  return { page, id, errors };
}

/** Waits until the Firefox page's mesh has `count` connected peers. */
async function firefoxConnectedTo(peer: FirefoxPeer, count: number): Promise<void> {
  await peer.page.waitForFunction(
    (n: number) => [...window.mesh.room.peers.values()].filter((p) => p.state === "connected").length === n,
    { polling: 50, timeout: CONNECT_WITHIN_MS },
    count,
  );
}

/** Text frames a Chromium page sends and receives on its signaling socket. */
function recordFrames(): { frames: string[]; prepare: (page: Page) => Promise<void> } {
  const frames: string[] = [];
  const prepare = async (page: Page) => {
    page.on("websocket", (socket) => {
      socket.on("framesent", ({ payload }) => frames.push(String(payload)));
      socket.on("framereceived", ({ payload }) => frames.push(String(payload)));
    });
  };
  return { frames, prepare };
}

/** Sends `text` each way and checks that each side got exactly the other's message, from the other's id. */
async function chatBothWays(chromium: MeshPeer, firefox: FirefoxPeer, text: string): Promise<void> {
  const fromChromium = `${text} from Chromium`;
  const fromFirefox = `${text} from Firefox`;
  expect(
    await chromium.page.evaluate(({ to, text }) => window.mesh.room.send(text, to), {
      to: firefox.id,
      text: fromChromium,
    }),
  ).toBe(1);
  expect(
    await firefox.page.evaluate(({ to, text }) => window.mesh.room.send(text, to), {
      to: chromium.id,
      text: fromFirefox,
    }),
  ).toBe(1);
  await firefox.page.waitForFunction(() => window.mesh.messages.length >= 1, {
    polling: 50,
    timeout: CONNECT_WITHIN_MS,
  });
  await chromium.page.waitForFunction(() => window.mesh.messages.length >= 1, undefined, {
    timeout: CONNECT_WITHIN_MS,
  });
  expect(await firefox.page.evaluate(() => window.mesh.messages)).toEqual([{ from: chromium.id, data: fromChromium }]);
  expect(await chromium.page.evaluate(() => window.mesh.messages)).toEqual([{ from: firefox.id, data: fromFirefox }]);
}

/**
 * In the page (RECORD_PEER_CONNECTIONS installed): the selected candidate pair
 * of each connected peer connection, as `type address -> type address`.
 */
async function selectedPairsInPage(): Promise<string[]> {
  const pairs = await Promise.all(
    window.pcs
      .filter((pc) => pc.connectionState === "connected")
      .map(async (pc) => {
        const stats = await pc.getStats();
        let pair: RTCIceCandidatePairStats | undefined;
        stats.forEach((report) => {
          // Chromium names the pair on its transport; Firefox marks the pair itself.
          if (report.type === "transport" && report.selectedCandidatePairId)
            pair = stats.get(report.selectedCandidatePairId);
          if (!pair && report.type === "candidate-pair" && report.selected) pair = report;
        });
        if (!pair) return "no selected pair";
        const end = (id: string) => {
          const candidate = stats.get(id);
          return `${candidate?.candidateType} ${candidate?.address ?? candidate?.ip}:${candidate?.port}`;
        };
        return `${end(pair.localCandidateId)} -> ${end(pair.remoteCandidateId)}`;
      }),
  );
  return pairs;
}

describeWithBrowser("Firefox and Chromium in one room", () => {
  const stack = useStack({}, { firefox: true });

  async function leaveAll(chromium: MeshPeer, fox: FirefoxPeer): Promise<void> {
    await Promise.all([
      chromium.page.evaluate(() => window.mesh.room.leave()),
      fox.page.evaluate(() => window.mesh.room.leave()),
    ]);
    await Promise.all([chromium.page.context().close(), fox.page.browserContext().close()]);
  }

  it("connects a Firefox page and a Chromium page, which chat both ways (Firefox offers)", async () => {
    const chromium = await joinWithLibrary(stack.browser, stack.server.url, "cross-open", "Chromium Ann", (page) =>
      page.addInitScript(RECORD_PEER_CONNECTIONS),
    );
    const fox = await joinInFirefox(stack.firefox, stack.server.url, "cross-open", "Firefox Bob");
    await Promise.all([connectedTo(chromium, 1, CONNECT_WITHIN_MS), firefoxConnectedTo(fox, 1)]);
    console.info(
      `Chromium's path: ${await chromium.page.evaluate(selectedPairsInPage)}; Firefox's: ${await fox.page.evaluate(selectedPairsInPage)}`,
    );
    await chatBothWays(chromium, fox, "hello");
    expect(fox.errors).toEqual([]);
    await leaveAll(chromium, fox);
  });

  it("connects them in a keyed room, the signaling sealed both ways (Chromium offers)", async () => {
    const key = generateKey();
    const fox = await joinInFirefox(stack.firefox, stack.server.url, "cross-keyed", "Firefox Bob", { key });
    const { frames, prepare } = recordFrames();
    const chromium = await joinWithLibrary(stack.browser, stack.server.url, "cross-keyed", "Chromium Ann", prepare, {
      key,
    });
    await Promise.all([connectedTo(chromium, 1, CONNECT_WITHIN_MS), firefoxConnectedTo(fox, 1)]);
    await chatBothWays(chromium, fox, "sealed hello");
    // Chromium's socket carried its offer and candidates to Firefox, and Firefox's answer and candidates back:
    // every one of them sealed, none readable by the server.
    const relayed = frames
      .filter((frame) => frame.startsWith("{"))
      .map((frame) => JSON.parse(frame) as Record<string, unknown>)
      .filter((frame) => ["offer", "answer", "candidate"].includes(String(frame.type)));
    expect(relayed.filter((frame) => frame.type === "offer" && frame.to === fox.id)).not.toHaveLength(0);
    expect(relayed.filter((frame) => frame.type === "answer" && frame.from === fox.id)).not.toHaveLength(0);
    for (const frame of relayed) {
      expect(Object.keys(frame).sort()).toEqual([frame.to ? "to" : "from", "sealed", "type"].sort());
    }
    const wire = frames.join("\n");
    for (const readable of [/v=0/, /a=fingerprint/, /candidate:/, /typ (host|srflx|relay)/, /"sdp"/, /ice-ufrag/]) {
      expect(wire).not.toMatch(readable);
    }
    expect(fox.errors).toEqual([]);
    await leaveAll(chromium, fox);
  });
}, [firefoxRequirement]);
