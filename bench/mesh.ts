/**
 * Mesh formation in real Chromium: N peers (separate browser contexts) join
 * one room at once; the time from the first join to the last connection,
 * measured in the pages. Ours runs the real stack (wrangler dev, the room
 * Durable Object, /mesh.js); the baselines run a minimal mesh page on a bare
 * Node relay, all pairs in parallel (the floor) and serialized (one newcomer
 * and one pair at a time, the classic tutorial design). Interleaved.
 */
import type { Browser, Page } from "playwright-core";
import { startBareRelay } from "./bare/relay.ts";
import { median, ratio } from "./lib.ts";

type Variant = "rendezvous" | "bare-parallel" | "bare-serial" | "bare-over-do";
const VARIANTS: Variant[] = ["rendezvous", "bare-parallel", "bare-serial", "bare-over-do"];

interface PageTimes {
  joinedAt: number;
  connectedAt: number[];
}

declare global {
  interface Window {
    bare: PageTimes;
    bareJoin(room: string, serial: boolean, server?: string): Promise<void>;
    timing: PageTimes;
  }
}

export interface MeshRun {
  variant: Variant;
  peers: number;
  ms: number;
}

/** Opens N pages, then starts every join at once; resolves with the formation time. */
async function formOnce(
  browser: Browser,
  variant: Variant,
  urls: { page: string; relay?: string },
  peers: number,
  room: string,
): Promise<number> {
  const contexts = await Promise.all(Array.from({ length: peers }, () => browser.newContext()));
  try {
    const pages = await Promise.all(contexts.map((context) => context.newPage()));
    await Promise.all(pages.map((page) => page.goto(`${urls.page}/`)));
    if (variant === "rendezvous") {
      // A string: this module never imports the library itself.
      await Promise.all(pages.map((page) => page.evaluate('import("/mesh.js").then((m) => { window.meshLib = m; })')));
    }
    await Promise.all(pages.map((page) => startJoin(page, variant, room, urls.relay)));
    await Promise.all(
      pages.map((page) =>
        page.waitForFunction((n) => (window.timing ?? window.bare).connectedAt.length >= n, peers - 1, {
          timeout: 60_000,
        }),
      ),
    );
    const times = await Promise.all(pages.map((page) => page.evaluate(() => window.timing ?? window.bare)));
    return Math.max(...times.flatMap((t) => t.connectedAt)) - Math.min(...times.map((t) => t.joinedAt));
  } finally {
    await Promise.all(contexts.map((context) => context.close()));
  }
}

function startJoin(page: Page, variant: Variant, room: string, relay?: string): Promise<void> {
  if (variant !== "rendezvous") {
    return page.evaluate(
      ({ room, serial, relay }) => {
        void window.bareJoin(room, serial, relay);
      },
      { room, serial: variant === "bare-serial", relay },
    );
  }
  return page.evaluate(
    `(() => {
      const room = window.meshLib.joinRoom(${JSON.stringify(room)});
      window.timing = { joinedAt: Date.now(), connectedAt: [] };
      room.addEventListener("peer-connect", () => window.timing.connectedAt.push(Date.now()));
    })()`,
  );
}

/**
 * `ceilingUrl` serves the no-logic relay Durable Object under the same
 * wrangler dev setup: the bare page over it separates what the local
 * platform costs from what our room costs.
 */
export async function measureMesh(
  browser: Browser,
  oursUrl: string,
  ceilingUrl: string,
  options: { sizes: number[]; rounds: number },
): Promise<{ runs: MeshRun[]; summary: string[] }> {
  const bare = await startBareRelay();
  const runs: MeshRun[] = [];
  try {
    for (let pass = 0; pass < options.rounds; pass++) {
      for (const peers of options.sizes) {
        for (const variant of VARIANTS) {
          const urls =
            variant === "rendezvous"
              ? { page: oursUrl }
              : variant === "bare-over-do"
                ? { page: bare.url, relay: ceilingUrl }
                : { page: bare.url };
          const room = `mesh-${variant}-${peers}-${pass}-${Date.now()}`;
          const ms = await formOnce(browser, variant, urls, peers, room);
          process.stderr.write(`mesh: ${variant} N=${peers} round ${pass + 1}: ${ms} ms\n`);
          runs.push({ variant, peers, ms });
        }
      }
    }
  } finally {
    await bare.close();
  }
  const med = (variant: Variant, peers: number) =>
    median(runs.filter((r) => r.variant === variant && r.peers === peers).map((r) => r.ms));
  const summary = [
    `### Mesh formation in Chromium (first join → last connection, ms; medians of ${options.rounds} interleaved rounds)`,
    "",
    "| N | Rendezvous | bare relay, parallel (a) | bare relay, serialized (b) | bare page over the no-logic DO (c) | ours / (a) | ours / (b) | ours / (c) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...options.sizes.map((n) => {
      const ours = med("rendezvous", n);
      const parallel = med("bare-parallel", n);
      const serial = med("bare-serial", n);
      const overDo = med("bare-over-do", n);
      return `| ${n} | ${ours} | ${parallel} | ${serial} | ${overDo} | ${ratio(ours, parallel)} | ${ratio(ours, serial)} | ${ratio(ours, overDo)} |`;
    }),
    "",
  ];
  return { runs, summary };
}
