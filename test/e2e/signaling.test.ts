/**
 * The real stack end to end: `wrangler dev` serving pages and room sockets to
 * Chromium. The browser mesh client builds on this; here the pages are
 * checked as served, and two browser pages signal through a room.
 */
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, expect, it } from "vitest";
import { describeWithBrowser, openPage, useStack } from "./browser";

const SCREENS = "test-results/screens";

type Frame = { type: string; from?: string; peer?: { id: string } };
/** What joinFromPage leaves on the page's window. */
declare global {
  interface Window {
    signal: { socket: WebSocket; frames: Frame[] };
  }
}

describeWithBrowser("signaling through wrangler dev in Chromium", () => {
  const stack = useStack();
  beforeAll(() => mkdirSync(SCREENS, { recursive: true }));

  /** A page that must load with 200; its console errors are recorded. */
  async function load(path: string): Promise<{ page: Page; errors: string[] }> {
    const opened = await openPage(stack.browser, `${stack.server.url}${path}`);
    expect(opened.status).toBe(200);
    return opened;
  }

  it("serves the landing and room pages", async () => {
    for (const [path, file] of [
      ["/", "landing"],
      ["/r/abc", "room"],
    ] as const) {
      const { page, errors } = await load(path);
      await expect(page.title()).resolves.toMatch(/Rendezvous/);
      await page.screenshot({ path: `${SCREENS}/${file}.png`, fullPage: true });
      expect(errors).toEqual([]);
      await page.context().close();
    }
  });

  /** Opens the room socket from inside the page, recording every frame. */
  async function joinFromPage(page: Page, name: string): Promise<{ id: string }> {
    return page.evaluate(async (name) => {
      const url = `${location.origin.replace(/^http/, "ws")}/r/abc/ws?name=${encodeURIComponent(name)}`;
      const socket = new WebSocket(url);
      const frames: Frame[] = [];
      window.signal = { socket, frames };
      return new Promise<{ id: string }>((resolve, reject) => {
        socket.onmessage = (event) => {
          const frame = JSON.parse(event.data);
          frames.push(frame);
          if (frame.type === "welcome") resolve({ id: frame.id });
        };
        socket.onclose = (event) => reject(new Error(`closed ${event.code}`));
      });
    }, name);
  }

  it("relays an offer between two browser pages, with the server's from", async () => {
    const ann = await load("/r/abc");
    const bob = await load("/r/abc");
    const annPeer = await joinFromPage(ann.page, "Ann");
    const bobPeer = await joinFromPage(bob.page, "Bob");
    await ann.page.waitForFunction(
      (id) => window.signal.frames.some((f) => f.type === "peer-joined" && f.peer?.id === id),
      bobPeer.id,
    );
    await bob.page.evaluate((to) => {
      window.signal.socket.send(JSON.stringify({ type: "offer", to, sdp: "v=0" }));
    }, annPeer.id);
    const offer = await ann.page.waitForFunction(() => window.signal.frames.find((f) => f.type === "offer"));
    expect(await offer.jsonValue()).toEqual({ type: "offer", from: bobPeer.id, sdp: "v=0" });
    expect([...ann.errors, ...bob.errors]).toEqual([]);
  });

  it("refuses a socket opened by a page on another site", async () => {
    const context = await stack.browser.newContext();
    const page = await context.newPage();
    // A page at another origin, with no CSP of its own to stop it trying.
    await page.route("http://evil.test/", (route) =>
      route.fulfill({ contentType: "text/html", body: "<!doctype html>" }),
    );
    await page.goto("http://evil.test/");
    const outcome = await page.evaluate(
      (target) =>
        new Promise<string>((resolve) => {
          const socket = new WebSocket(target);
          socket.onopen = () => resolve("open");
          socket.onclose = (event) => resolve(`closed ${event.code}`);
        }),
      `${stack.server.url.replace(/^http/, "ws")}/r/abc/ws`,
    );
    expect(outcome).toBe("closed 1006"); // refused with 403 before any socket existed
    await context.close();
  });

  it("keeps its own pages from connecting anywhere but their origin", async () => {
    const { page, errors } = await load("/r/abc");
    await page.evaluate(() => new WebSocket("ws://evil.test/"));
    await expect.poll(() => errors.join("\n")).toMatch(/Content Security Policy/);
  });
});
