/**
 * The room app as a person uses it, in Chromium against wrangler dev:
 * landing, names, chat both ways, a file, a full room, leaving, encrypted
 * rooms and their keys, hiding one's IP address, names in any script, a long
 * chat, the room opened in another tab. Screenshots of every state go to
 * test-results/screens/ to be looked at.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import type { BrowserContextOptions, Page } from "playwright-core";
import { beforeAll, expect, it } from "vitest";
import { describeWithBrowser, openPage, useStack } from "./browser";
import { joinWithLibrary } from "./mesh-harness";
import { SignalingTap } from "./tap";

const SCREENS = "test-results/screens";
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true };

describeWithBrowser("the room app", () => {
  const stack = useStack();
  beforeAll(() => mkdirSync(SCREENS, { recursive: true }));

  /** A fresh person (nothing remembered) on a page (a path on the server, or a full URL), its console errors recorded. */
  function person(
    path: string,
    options: BrowserContextOptions = {},
  ): Promise<{ page: Page; errors: string[]; status: number }> {
    // Reduced motion: screenshots show end states, not transitions half-way.
    return openPage(stack.browser, path.startsWith("http") ? path : `${stack.server.url}${path}`, {
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

  /** Waits until the page's own signaling is welcomed into the room. */
  const inRoom = (page: Page) => page.locator("#peers li.peer-self .pill-connected").waitFor();

  /** A fresh room key, as `generateKey()` makes them: 128 random bits in base64url. */
  const newKey = () => randomBytes(16).toString("base64url");

  /** The banner's text once it says `text`: a message, not a hang. */
  async function bannerSays(page: Page, text: string): Promise<string> {
    const banner = page.locator("#banner", { hasText: text });
    await banner.waitFor({ timeout: 20_000 });
    return (await banner.textContent()) ?? "";
  }

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
    // Saved, never rendered: opened in a tab of its own, the link's blob downloads (its type is no sender's choice).
    const viewer = await bob.page.context().newPage();
    const [opened] = await Promise.all([
      viewer.waitForEvent("download", { timeout: 5_000 }),
      viewer.goto((await link.getAttribute("href")) ?? "").catch(() => undefined),
    ]);
    expect(readFileSync(await opened.path(), "utf8")).toBe(content.toString());
    await viewer.close();
    await ann.page.locator('#transfers li.transfer[data-state="done"]').waitFor();
    await screenshot(bob.page, "room-file-received");
    // Stored on disk until the row goes: then the stored copy goes with it.
    const stored = () =>
      bob.page.evaluate(async () => {
        const root = await navigator.storage.getDirectory();
        const dir = await root.getDirectoryHandle("rendezvous-incoming").catch(() => null);
        const names: string[] = [];
        for await (const name of dir?.keys() ?? []) names.push(name);
        return names.length;
      });
    expect(await stored()).toBe(1);
    await bob.page.locator('#transfers button[aria-label="Remove minutes.txt from the list"]').click();
    await expect.poll(stored).toBe(0);
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

  it("creates an end-to-end encrypted room by default, shared by its full link", async () => {
    const ann = await person("/");
    await ann.page.locator("#create-room").click();
    await ann.page.waitForURL(/\/r\/.+#/);
    const url = new URL(ann.page.url());
    expect(url.pathname).toMatch(/^\/r\/[A-Za-z0-9_-]{22}$/);
    expect(url.hash).toMatch(/^#[A-Za-z0-9_-]{22}$/); // the key: 128 random bits, never sent to the server
    await enterRoom(ann.page, "Ann");

    // The link to copy and the QR code both carry the key.
    const invite = await ann.page.locator("#room-link").inputValue();
    expect(invite).toBe(url.href);
    await expect(ann.page.locator("#qr title").textContent()).resolves.toContain(url.href);
    await expect(ann.page.locator("#e2e-badge").textContent()).resolves.toBe("End-to-end encrypted");
    await expect(ann.page.locator("#e2e-status").textContent()).resolves.toContain("End-to-end encrypted");

    const bob = await person(invite, { ...PHONE, colorScheme: "dark" });
    await enterRoom(bob.page, "Bob");
    await Promise.all([connectedPeers(ann.page, 1), connectedPeers(bob.page, 1)]);
    await expect(bob.page.locator("#e2e-badge").getAttribute("title")).resolves.toBe("End-to-end encrypted");

    await ann.page.locator("#chat-input").fill("This room is ours alone.");
    await ann.page.locator("#chat-input").press("Enter");
    await bob.page.locator("#messages li.message", { hasText: "This room is ours alone." }).waitFor();
    await bob.page.locator("#chat-input").fill("Nobody else can read this.");
    await bob.page.locator("#chat-send").click();
    await ann.page.locator("#messages li.message", { hasText: "Nobody else can read this." }).waitFor();

    await screenshot(ann.page, "room-encrypted-desktop-light");
    await screenshot(bob.page, "room-encrypted-phone-dark");
    expect([...ann.errors, ...bob.errors]).toEqual([]);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });

  it("says so when a link's key is wrong, missing or damaged, instead of hanging", async () => {
    const room = "/r/app-keys";
    const ann = await person(`${room}#${newKey()}`);
    await enterRoom(ann.page, "Ann");
    await inRoom(ann.page);

    // Same room, another key: Mallory is the odd one out, and Ann hears who it is.
    const mallory = await person(`${room}#${newKey()}`);
    await enterRoom(mallory.page, "Mallory");
    expect(await bannerSays(mallory.page, "your link's key doesn't match")).toContain("Ask for the full link");
    expect(await bannerSays(ann.page, "Mallory has a link with a different key")).toContain(
      "you can't connect to each other",
    );
    const atAnn = ann.page.locator("#peers li[data-peer-id][data-mismatch]", { hasText: "Mallory" });
    await expect(atAnn.textContent()).resolves.toContain("Different key");
    await expect(atAnn.locator(".pill").textContent()).resolves.toBe("can't connect");
    await expect(ann.page.locator("#banner bdi").first().textContent()).resolves.toBe("Mallory");
    await expect(mallory.page.locator("#chat-hint").textContent()).resolves.toContain("can't connect to anyone");
    await screenshot(mallory.page, "room-wrong-key");
    await screenshot(ann.page, "room-wrong-key-other-side");

    // No key at all: ask for the full link.
    const nobody = await person(room, { ...PHONE, colorScheme: "dark" });
    await enterRoom(nobody.page, "Nobody");
    await bannerSays(nobody.page, "This room is end-to-end encrypted. Ask for the full link, including the part after");
    await expect(nobody.page.locator("#e2e-badge").textContent()).resolves.toBe("Not end-to-end encrypted");
    await screenshot(nobody.page, "room-missing-key-phone-dark");
    await bannerSays(ann.page, "Mallory and Nobody have a link with a different key");

    // A damaged key joins nothing: no name asked, just the message.
    const damaged = await person(`${room}#not-a-key`);
    await bannerSays(damaged.page, "This link's key is damaged");
    await expect(damaged.page.locator("#name-step").isHidden()).resolves.toBe(true);
    await screenshot(damaged.page, "room-damaged-key");

    expect([...ann.errors, ...mallory.errors, ...nobody.errors, ...damaged.errors]).toEqual([]);
    await Promise.all([ann, mallory, nobody, damaged].map((one) => one.page.context().close()));
  });

  it("remembers “Hide my IP address” per room, and says when the server has no relay", async () => {
    const { page, errors } = await person("/r/app-hide-ip");
    const hideIp = page.getByLabel("Hide my IP address");
    await expect(hideIp.isChecked()).resolves.toBe(false);
    // Chosen before joining: it applies to this join.
    await hideIp.check();
    await enterRoom(page, "Ann");
    await bannerSays(page, "“Hide my IP address” is on, but this server has no relay");
    await page.locator("#relay-status", { hasText: "This server has no relay (TURN) configured" }).waitFor();
    await expect(hideIp.isEnabled()).resolves.toBe(true); // on, it can still be turned off
    await screenshot(page, "room-hide-ip-no-relay");

    // Remembered across a reload, for this room only.
    await page.reload();
    await expect(hideIp.isChecked()).resolves.toBe(true);
    await bannerSays(page, "this server has no relay");
    await page.goto(`${stack.server.url}/r/app-hide-ip-elsewhere`);
    await inRoom(page);
    await expect(hideIp.isChecked()).resolves.toBe(false);
    await page.locator("#relay-status").waitFor();
    await expect(hideIp.isDisabled()).resolves.toBe(true); // off, and no relay to turn it on for

    // Back in the first room, the banner's button turns it off and rejoins.
    await page.goto(`${stack.server.url}/r/app-hide-ip`);
    await expect(hideIp.isChecked()).resolves.toBe(true);
    await Promise.all([page.waitForEvent("load"), page.locator("#banner button", { hasText: "Turn it off" }).click()]);
    await inRoom(page);
    await expect(hideIp.isChecked()).resolves.toBe(false);
    await expect(page.locator("#banner").isHidden()).resolves.toBe(true);
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, "room-hide-ip-off-phone");
    expect(errors).toEqual([]);
    await page.context().close();
  });
  it("keeps the last 500 chat messages, however many arrive", async () => {
    const ann = await person("/r/app-long-chat");
    await enterRoom(ann.page, "Ann");
    const bob = await joinWithLibrary(stack.browser, stack.server.url, "app-long-chat", "Bob");
    await connectedPeers(ann.page, 1);
    await bob.page.evaluate(() => {
      for (let i = 1; i <= 600; i++) window.mesh.room.send({ kind: "chat", text: `message ${i}` });
    });
    await ann.page.locator("#messages li.message", { hasText: "message 600" }).waitFor();
    const messages = ann.page.locator("#messages li.message");
    await expect(messages.count()).resolves.toBe(500);
    await expect(messages.first().locator(".message-text").textContent()).resolves.toBe("message 101");
    expect(ann.errors).toEqual([]);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });

  it("shows names and file names isolated, whatever their script, and says when a file is refused", async () => {
    const ann = await person("/r/app-names");
    await enterRoom(ann.page, "Ann");
    // A right-to-left name: it must not reorder "from", "·" and the sizes around it.
    const dana = await joinWithLibrary(stack.browser, stack.server.url, "app-names", "דנה כהן");
    await connectedPeers(ann.page, 1);
    const peerName = ann.page.locator("#peers li[data-peer-id] .peer-name");
    await expect(peerName.evaluate((element) => element.localName)).resolves.toBe("bdi");
    await expect(peerName.textContent()).resolves.toBe("דנה כהן");

    await dana.page.evaluate(() => window.mesh.room.send({ kind: "chat", text: "שלום! the minutes are coming." }));
    const author = ann.page.locator("#messages li.message .message-author");
    await author.waitFor();
    await expect(author.evaluate((element) => element.localName)).resolves.toBe("bdi");

    // A file name that hides its extension behind a right-to-left override is shown (and saved) with the override visible.
    await dana.page.evaluate(() => window.mesh.room.sendFile(new File(["%PDF"], "invoice\u202Efdp.exe")).done);
    const spoof = ann.page.locator("#transfers li.transfer", { hasText: "invoice\uFFFDfdp.exe" });
    await spoof.locator("a[download]").waitFor();
    await expect(spoof.locator(".transfer-name bdi").count()).resolves.toBe(1);
    await expect(spoof.locator(".transfer-direction bdi").textContent()).resolves.toBe("דנה כהן");
    await expect(spoof.locator("a[download]").getAttribute("download")).resolves.toBe("invoice\uFFFDfdp.exe");

    // Nine files at once from one person: eight arrive, the ninth is refused, and Ann hears who sent it.
    await dana.page.evaluate(() => {
      const block = new Uint8Array(64 * 1024);
      for (let i = 1; i <= 9; i++) window.mesh.room.sendFile(new File(Array(16).fill(block), `סיכום ${i}.txt`));
    });
    const refusal = await bannerSays(ann.page, "was refused");
    expect(refusal).toContain("A file from דנה כהן was refused: 8 of their files are already arriving");
    await expect(ann.page.locator("#banner bdi").textContent()).resolves.toBe("דנה כהן");
    await ann.page.locator('#transfers li.transfer[data-state="done"]').nth(8).waitFor();
    await screenshot(ann.page, "room-rtl-names-files");
    expect(ann.errors).toEqual([]);
    await Promise.all([ann.page.context().close(), dana.page.context().close()]);
  });

  it("says so when the room is opened in another tab, and rejoins here on request", async () => {
    const ann = await person("/r/app-replaced");
    const tap = await SignalingTap.install(ann.page, "app-replaced");
    await enterRoom(ann.page, "Ann");
    await inRoom(ann.page);
    const bob = await joinWithLibrary(stack.browser, stack.server.url, "app-replaced", "Bob");
    await connectedPeers(ann.page, 1);
    // Another tab resumes Ann's place (as a duplicated tab holding her state would): this one is replaced.
    const token = tap.resume;
    if (!token) throw new Error("no resume token seen");
    const other = await ann.page.context().newPage();
    await other.goto(`${stack.server.url}/`);
    const url = `${stack.server.url.replace(/^http/, "ws")}/r/app-replaced/ws?resume=${token}`;
    await other.evaluate((url) => void new WebSocket(url), url);
    expect(await bannerSays(ann.page, "opened in another tab or window")).toContain("rejoin here");
    await expect(ann.page.locator("#chat-hint").textContent()).resolves.toBe(
      "This room is open in another tab or window.",
    );
    await expect(ann.page.locator("#peers li[data-peer-id]").count()).resolves.toBe(0);
    await screenshot(ann.page, "room-replaced");
    await other.close();
    await Promise.all([
      ann.page.waitForEvent("load"),
      ann.page.locator("#banner button", { hasText: "Rejoin here" }).click(),
    ]);
    await connectedPeers(ann.page, 1);
    expect(ann.errors).toEqual([]);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });
});
