/**
 * The room app as a person uses it, in Chromium against wrangler dev:
 * landing, names, chat both ways, a file, a full room, leaving. Screenshots
 * of every state go to test-results/screens/ to be looked at.
 */
import { mkdirSync, readFileSync } from "node:fs";
import type { BrowserContextOptions, Page } from "playwright-core";
import { beforeAll, expect, it } from "vitest";
import { describeWithBrowser, openPage, useStack } from "./browser";
import { joinWithLibrary } from "./mesh-harness";

const SCREENS = "test-results/screens";
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true };

describeWithBrowser("the room app", () => {
  const stack = useStack();
  beforeAll(() => mkdirSync(SCREENS, { recursive: true }));

  /** A fresh person (nothing remembered) on a page, its console errors recorded. */
  function person(
    path: string,
    options: BrowserContextOptions = {},
  ): Promise<{ page: Page; errors: string[]; status: number }> {
    // Reduced motion: screenshots show end states, not transitions half-way.
    return openPage(stack.browser, `${stack.server.url}${path}`, {
      acceptDownloads: true,
      reducedMotion: "reduce",
      ...options,
    });
  }

  /** A full-page screenshot from the top, so the sticky header sits where a person sees it. */
  async function screenshot(page: Page, file: string): Promise<void> {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${SCREENS}/${file}.png`, fullPage: true });
  }

  async function enterRoom(page: Page, name: string): Promise<void> {
    await page.locator("#name-input").fill(name);
    await page.locator("#name-submit").click();
  }

  const connectedPeers = (page: Page, count: number) =>
    page
      .locator('#peers li[data-peer-id][data-state="connected"]')
      .nth(count - 1)
      .waitFor();

  it("creates an unguessable room from the landing page, and checks names typed to join", async () => {
    const { page, errors } = await person("/");
    await screenshot(page, "landing");
    await page.locator("#join-name").fill("no spaces allowed");
    await page.locator("#join-form button[type=submit]").click();
    await expect(page.locator("#join-error").textContent()).resolves.toMatch(/\S/);
    expect(new URL(page.url()).pathname).toBe("/");
    await page.locator("#create-room").click();
    await page.waitForURL(/\/r\//);
    expect(new URL(page.url()).pathname).toMatch(/^\/r\/[A-Za-z0-9_-]{22}$/); // 128 random bits
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("lets two people chat both ways, remembering their names", async () => {
    const ann = await person("/r/app-chat");
    const bob = await person("/r/app-chat", { ...PHONE, colorScheme: "dark" });
    await screenshot(ann.page, "room-name-step");
    await enterRoom(ann.page, "Ann");
    await enterRoom(bob.page, "Bob");
    await Promise.all([connectedPeers(ann.page, 1), connectedPeers(bob.page, 1)]);
    await expect(ann.page.locator("#peers li[data-peer-id]").textContent()).resolves.toContain("Bob");

    await ann.page.locator("#chat-input").fill("Hi Bob, the agenda is ready.");
    await ann.page.locator("#chat-input").press("Enter");
    const atBob = bob.page.locator("#messages li.message", { hasText: "Hi Bob, the agenda is ready." });
    await atBob.waitFor();
    await expect(atBob.locator(".message-author").textContent()).resolves.toBe("Ann");
    await expect(atBob.locator("time").textContent()).resolves.toMatch(/\d/);

    await bob.page.locator("#chat-input").fill("Thanks Ann!");
    await bob.page.locator("#chat-send").click();
    await ann.page.locator("#messages li.message", { hasText: "Thanks Ann!" }).waitFor();
    await expect(ann.page.locator("#chat-input").inputValue()).resolves.toBe("");

    await screenshot(ann.page, "room-desktop-light");
    await screenshot(bob.page, "room-phone-dark");

    // The name is remembered: a reload goes straight back in.
    await ann.page.reload();
    await connectedPeers(ann.page, 1);
    await expect(ann.page.locator("#name-step").isHidden()).resolves.toBe(true);
    expect([...ann.errors, ...bob.errors]).toEqual([]);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });

  it("shares a file by picker and offers the download on arrival", async () => {
    const ann = await person("/r/app-file");
    const bob = await person("/r/app-file");
    await enterRoom(ann.page, "Ann");
    await enterRoom(bob.page, "Bob");
    await Promise.all([connectedPeers(ann.page, 1), connectedPeers(bob.page, 1)]);
    const content = Buffer.from("minutes of the meeting\n".repeat(5_000));
    await ann.page
      .locator("#file-input")
      .setInputFiles({ name: "minutes.txt", mimeType: "text/plain", buffer: content });
    const link = bob.page.locator('#transfers li.transfer a[download="minutes.txt"]');
    await link.waitFor();
    const [download] = await Promise.all([bob.page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toBe("minutes.txt");
    expect(readFileSync(await download.path(), "utf8")).toBe(content.toString());
    await ann.page.locator('#transfers li.transfer[data-state="done"]').waitFor();
    await screenshot(bob.page, "room-file-received");
    expect([...ann.errors, ...bob.errors]).toEqual([]);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });

  it("tells the ninth person that the room is full", async () => {
    const eight = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        joinWithLibrary(stack.browser, stack.server.url, "app-full", `Peer ${i + 1}`),
      ),
    );
    const ninth = await person("/r/app-full");
    await enterRoom(ninth.page, "Nina");
    await ninth.page.locator("#banner", { hasText: "This room is full" }).waitFor();
    await screenshot(ninth.page, "room-full");
    await Promise.all([ninth.page.context().close(), ...eight.map((peer) => peer.page.context().close())]);
  });

  it("leaves with the leave button, and the other side sees it", async () => {
    const ann = await person("/r/app-leave");
    const bob = await person("/r/app-leave");
    await enterRoom(ann.page, "Ann");
    await enterRoom(bob.page, "Bob");
    await Promise.all([connectedPeers(ann.page, 1), connectedPeers(bob.page, 1)]);
    await ann.page.locator("#leave").click();
    await ann.page.locator("#banner", { hasText: "You left the room" }).waitFor();
    await bob.page.locator("#peers li[data-peer-id]").waitFor({ state: "detached" });
    await screenshot(ann.page, "room-left");
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });
});
