/**
 * Drives `/mesh.js` inside real pages: each peer is its own browser context
 * on the landing page (which joins nothing by itself), with the library
 * imported and a log of its events kept on `window.mesh`.
 */
import type { Browser, Page } from "playwright-core";
import type { JoinOptions } from "../../src/client/mesh";

export interface MeshLog {
  room: import("../../src/client/mesh").MeshRoom;
  /** When joinRoom was called (epoch ms; every page shares the machine's clock). */
  joinedAt: number;
  events: { type: string; at: number; detail: Record<string, unknown> }[];
  messages: { from: string; data: unknown }[];
}

declare global {
  interface Window {
    mesh: MeshLog;
    meshLib: typeof import("/mesh.js");
  }
}

/**
 * Loads the library into the page as a user's code would. A string, because
 * the test bundler rewrites every import() it sees in the test's own code.
 */
export async function loadLibrary(page: Page): Promise<void> {
  await page.evaluate('import("/mesh.js").then((library) => { window.meshLib = library; })');
}

export interface MeshPeer {
  page: Page;
  /** Resolves with the peer id once `signaling` says connected. */
  id: string;
}

/** Opens a page and joins `room` with the library, waiting for the welcome. */
export async function joinWithLibrary(
  browser: Browser,
  base: string,
  room: string,
  name: string,
  prepare?: (page: Page) => Promise<unknown>,
  options: Omit<JoinOptions, "name"> = {},
): Promise<MeshPeer> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await prepare?.(page);
  page.on("pageerror", (error) => console.error(`[${name}] page error:`, error.message));
  await page.goto(`${base}/`);
  await loadLibrary(page);
  const id = await page.evaluate(
    async ({ room, name, options }) => {
      const mesh = window.meshLib.joinRoom(room, { ...options, name });
      window.mesh = { room: mesh, joinedAt: Date.now(), events: [], messages: [] };
      for (const type of ["peer-join", "peer-connect", "peer-leave", "signaling", "error", "file-start", "file"]) {
        mesh.addEventListener(type, (event) => {
          const detail = (event as CustomEvent<Record<string, unknown>>).detail;
          const plain = JSON.parse(JSON.stringify(detail, (_, value) => (value instanceof Blob ? value.size : value)));
          window.mesh.events.push({ type, at: Date.now(), detail: plain });
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
    },
    { room, name, options },
  );
  return { page, id };
}

/** Waits until this page's mesh has `count` connected peers. */
export async function connectedTo(peer: MeshPeer, count: number, timeout = 30_000): Promise<void> {
  await peer.page.waitForFunction(
    (n) => [...window.mesh.room.peers.values()].filter((p) => p.state === "connected").length === n,
    count,
    { timeout },
  );
}

/** From the first joinRoom call to the last peer-connect, across pages, in ms. */
export async function formationTime(peers: MeshPeer[]): Promise<number> {
  const spans = await Promise.all(
    peers.map((peer) =>
      peer.page.evaluate(() => ({
        joinedAt: window.mesh.joinedAt,
        lastConnect: Math.max(...window.mesh.events.filter((e) => e.type === "peer-connect").map((e) => e.at)),
      })),
    ),
  );
  return Math.max(...spans.map((s) => s.lastConnect)) - Math.min(...spans.map((s) => s.joinedAt));
}
