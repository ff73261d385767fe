/**
 * The room app's call view, in Chromium with fake camera, microphone and
 * screen, against wrangler dev: four people in a call see and hear each
 * other, a muted microphone and a camera turned off show on the others'
 * tiles, leaving the call takes its tile away, chat keeps working; a missing
 * camera and a browser that cannot share its screen get plain messages; a
 * screen share is its own tile and ends with the browser's own button.
 * Screenshots at desktop and phone width, light and dark, go to
 * test-results/screens/ to be looked at.
 */
import { mkdirSync } from "node:fs";
import type { BrowserContextOptions, Locator, Page } from "playwright-core";
import { beforeAll, expect, it } from "vitest";
import { describeWithBrowser, useStack } from "./browser";

const SCREENS = "test-results/screens";
const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true };

declare global {
  interface Window {
    /** The last stream getDisplayMedia gave the page, kept by the test's init script. */
    sharedScreen?: MediaStream;
  }
}

interface Person {
  name: string;
  page: Page;
  errors: string[];
}

describeWithBrowser("calls in the room app", () => {
  const stack = useStack();
  beforeAll(() => mkdirSync(SCREENS, { recursive: true }));

  /**
   * A fresh person (nothing remembered) in `room`, named, with console errors
   * recorded; `init` runs in the page before the app (a device to take away).
   */
  async function person(
    room: string,
    name: string,
    options: BrowserContextOptions,
    init?: () => void,
  ): Promise<Person> {
    const context = await stack.browser.newContext({ reducedMotion: "reduce", ...options });
    if (init) await context.addInitScript(init);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${stack.server.url}/r/${room}`);
    await page.locator("#name-input").fill(name);
    await page.locator("#name-submit").click();
    return { name, page, errors };
  }

  const connectedPeers = (page: Page, count: number) =>
    page
      .locator('#peers li[data-peer-id][data-state="connected"]')
      .nth(count - 1)
      .waitFor({ timeout: 30_000 });

  const remoteTiles = (page: Page) => page.locator("#tiles li.tile[data-remote]");
  const tileOf = (page: Page, name: string, label = "camera"): Locator =>
    page.locator(`#tiles li.tile[data-remote][data-label="${label}"]`, {
      has: page.locator(".tile-name", { hasText: name }),
    });

  async function joinCall(page: Page): Promise<void> {
    await page.locator("#call-join").click();
    await page.locator("#call-leave").waitFor();
  }

  /** Waits until the page shows exactly `count` remote tiles. */
  async function showsRemoteTiles(page: Page, count: number): Promise<void> {
    await page.waitForFunction(
      (count) => document.querySelectorAll("#tiles li.tile[data-remote]").length === count,
      count,
      { timeout: 30_000 },
    );
  }

  /**
   * How many of the page's remote tiles present fresh video frames (three
   * frames through requestVideoFrameCallback, or a clock that moves where a
   * tile is out of view and presents nothing).
   */
  function advancingVideos(page: Page): Promise<number> {
    return page.evaluate(async () => {
      const videos = [...document.querySelectorAll<HTMLVideoElement>("#tiles li.tile[data-remote] video")];
      const advances = (video: HTMLVideoElement) =>
        new Promise<boolean>((resolve) => {
          const start = video.currentTime;
          let frames = 0;
          const timer = setTimeout(() => resolve(video.currentTime > start), 8_000);
          const next = () =>
            video.requestVideoFrameCallback(() => {
              frames += 1;
              if (frames < 3) return next();
              clearTimeout(timer);
              resolve(true);
            });
          next();
        });
      return (await Promise.all(videos.map(advances))).filter(Boolean).length;
    });
  }

  /** Whether every remote tile plays sound: unmuted, playing, with a live audio track. */
  function audiblePlayers(page: Page): Promise<number> {
    return page.evaluate(
      () =>
        [...document.querySelectorAll<HTMLVideoElement>("#tiles li.tile[data-remote] video")].filter((video) => {
          const stream = video.srcObject;
          const audio = stream instanceof MediaStream ? stream.getAudioTracks() : [];
          return !video.muted && !video.paused && audio.some((track) => track.readyState === "live");
        }).length,
    );
  }

  /**
   * A full-page screenshot from the top (so the sticky header sits where a
   * person sees it), and the call card alone at full size, for its details.
   */
  async function screenshot(page: Page, file: string): Promise<void> {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${SCREENS}/${file}.png`, fullPage: true });
    await page.locator("#call").screenshot({ path: `${SCREENS}/${file}-card.png` });
  }

  it("puts four people in a call: video and sound both ways, mute and camera off shown, leaving removes the tile", async () => {
    const room = "app-call-four";
    const [ann, bob, chidi, dana] = await Promise.all([
      person(room, "Ann", DESKTOP),
      person(room, "Bob", { ...DESKTOP, colorScheme: "dark" }),
      person(room, "Chidi Okafor-Lindqvist", PHONE),
      person(room, "דנה כהן", { ...PHONE, colorScheme: "dark" }),
    ]);
    const people = [ann, bob, chidi, dana];
    await Promise.all(people.map(({ page }) => connectedPeers(page, 3)));

    // Before joining: the card says nobody is in the call, and asks nothing of the devices yet.
    await expect(ann.page.locator("#call-hint").textContent()).resolves.toContain("Nobody is in the call yet");
    await screenshot(ann.page, "call-before-join-desktop-light");
    for (const { page } of [ann, bob, chidi]) await joinCall(page);
    // Dana sees the three before she joins, silent until she does.
    await showsRemoteTiles(dana.page, 3);
    await expect(dana.page.locator("#call-hint").textContent()).resolves.toContain("3 people are in the call");
    await expect(audiblePlayers(dana.page)).resolves.toBe(0);
    await screenshot(dana.page, "call-before-join-phone-dark");
    await joinCall(dana.page);
    // The join button hid itself: the keyboard focus moved on to the microphone.
    await expect(dana.page.evaluate(() => document.activeElement?.id)).resolves.toBe("call-mic");
    await expect(dana.page.locator("#call-mic").getAttribute("aria-pressed")).resolves.toBe("true");

    await Promise.all(people.map(({ page }) => showsRemoteTiles(page, 3)));
    await Promise.all(
      people.map(async ({ page }) => {
        const preview = page.locator("#tiles li.tile-self video");
        await expect(preview.evaluate((video) => video instanceof HTMLVideoElement && video.muted)).resolves.toBe(true);
        await expect(advancingVideos(page)).resolves.toBe(3);
        await expect(audiblePlayers(page)).resolves.toBe(3);
        await expect(page.locator("#call-count").textContent()).resolves.toBe("4 in call");
      }),
    );
    // Names in any script are isolated, as in the people list.
    await expect(
      tileOf(ann.page, "דנה כהן")
        .locator(".tile-name")
        .evaluate((element) => element.localName),
    ).resolves.toBe("bdi");
    // The fake microphone beeps: somebody's speaking ring lights up.
    const speaking = ann.page.locator("#tiles li.tile[data-remote].is-speaking").first();
    await speaking.waitFor({ timeout: 15_000 });
    await expect(speaking.locator(".tile-speaking").isVisible()).resolves.toBe(true);

    // Chat keeps working during the call.
    await chidi.page.locator("#chat-input").fill("Can everyone see me?");
    await chidi.page.locator("#chat-input").press("Enter");
    await Promise.all(
      [ann, bob, dana].map(({ page }) =>
        page.locator("#messages li.message", { hasText: "Can everyone see me?" }).waitFor(),
      ),
    );

    await Promise.all([
      screenshot(ann.page, "call-desktop-light"),
      screenshot(bob.page, "call-desktop-dark"),
      screenshot(chidi.page, "call-phone-light"),
      screenshot(dana.page, "call-phone-dark"),
    ]);

    // Ann mutes her microphone, Bob turns his camera off: the others see both.
    await ann.page.locator("#call-mic").click();
    await expect(ann.page.locator("#call-mic").getAttribute("aria-pressed")).resolves.toBe("false");
    await bob.page.locator("#call-camera").click();
    await expect(bob.page.locator("#call-camera").getAttribute("aria-pressed")).resolves.toBe("false");
    for (const { page } of [bob, chidi, dana]) {
      await tileOf(page, "Ann").locator(".tile-mic-off").waitFor({ state: "visible" });
    }
    for (const { page } of [ann, chidi, dana]) {
      await tileOf(page, "Bob").locator(".tile-cover", { hasText: "Camera off" }).waitFor({ state: "visible" });
      await expect(tileOf(page, "Bob").locator(".tile-mic-off").isHidden()).resolves.toBe(true);
    }
    await Promise.all([
      screenshot(ann.page, "call-muted-desktop-light"),
      screenshot(bob.page, "call-muted-desktop-dark"),
      screenshot(chidi.page, "call-muted-phone-light"),
      screenshot(dana.page, "call-muted-phone-dark"),
    ]);

    // Unmuted again: the icon goes.
    await ann.page.locator("#call-mic").click();
    await tileOf(bob.page, "Ann").locator(".tile-mic-off").waitFor({ state: "hidden" });

    // Ann leaves the call (not the room): her tile goes everywhere else, and her camera stops.
    await ann.page.locator("#call-leave").click();
    await Promise.all([bob, chidi, dana].map(({ page }) => showsRemoteTiles(page, 2)));
    for (const { page } of [bob, chidi, dana]) await expect(tileOf(page, "Ann").count()).resolves.toBe(0);
    await expect(ann.page.locator("#tiles li.tile-self").count()).resolves.toBe(0);
    await ann.page.locator("#call-join").waitFor();
    await expect(ann.page.evaluate(() => document.activeElement?.id)).resolves.toBe("call-join");
    // Still in the room: she sees the others' tiles, silent until she joins again.
    await expect(remoteTiles(ann.page).count()).resolves.toBe(3);
    await expect(audiblePlayers(ann.page)).resolves.toBe(0);
    await screenshot(ann.page, "call-left-desktop-light");

    expect(people.flatMap(({ errors }) => errors)).toEqual([]);
    await Promise.all(people.map(({ page }) => page.context().close()));
  }, 180_000);

  it("joins with the microphone alone when there is no camera, and says so plainly", async () => {
    const room = "app-call-no-camera";
    // A phone without a camera whose browser cannot share a screen.
    const noCamera = () => {
      const devices = navigator.mediaDevices;
      const open = devices.getUserMedia.bind(devices);
      devices.getUserMedia = (constraints) =>
        constraints?.video
          ? Promise.reject(new DOMException("Requested device not found", "NotFoundError"))
          : open(constraints);
      Object.defineProperty(devices, "getDisplayMedia", { value: undefined });
    };
    const ann = await person(room, "Ann", PHONE, noCamera);
    const bob = await person(room, "Bob", DESKTOP);
    await Promise.all([connectedPeers(ann.page, 1), connectedPeers(bob.page, 1)]);
    await joinCall(ann.page);
    await ann.page.locator("#call-message", { hasText: "No camera was found." }).waitFor();
    await expect(ann.page.locator("#call-message").textContent()).resolves.toContain("microphone only");
    await expect(ann.page.locator("#call-mic").getAttribute("aria-pressed")).resolves.toBe("true");
    await expect(ann.page.locator("#call-camera").getAttribute("aria-pressed")).resolves.toBe("false");
    await expect(ann.page.locator("#tiles li.tile-self .tile-cover").textContent()).resolves.toContain("No camera");

    // Bob sees her initial, not a black box, and hears her.
    await showsRemoteTiles(bob.page, 1);
    await tileOf(bob.page, "Ann").locator(".tile-cover", { hasText: "No video" }).waitFor();
    await joinCall(bob.page);
    await expect(audiblePlayers(bob.page)).resolves.toBe(1);

    // Her camera button asks again, and says again what is missing.
    await ann.page.locator("#call-camera").click();
    await ann.page.locator("#call-message", { hasText: "No camera was found." }).waitFor();
    await ann.page.locator("#call-screen").click();
    await ann.page.locator("#call-message", { hasText: "can't share its screen" }).waitFor();
    await showsRemoteTiles(ann.page, 1);
    await screenshot(ann.page, "call-no-camera-phone-light");
    expect([...ann.errors, ...bob.errors]).toEqual([]);
    await Promise.all([ann.page.context().close(), bob.page.context().close()]);
  });

  it("shows a shared screen as its own wide tile, and stops it with the browser's own button", async () => {
    const room = "app-call-screen";
    // Keeps the shared stream where the test can end it, as the browser's "Stop sharing" would.
    const keepScreen = () => {
      const devices = navigator.mediaDevices;
      const open = devices.getDisplayMedia.bind(devices);
      devices.getDisplayMedia = async (options) => {
        const stream = await open(options);
        window.sharedScreen = stream;
        return stream;
      };
    };
    const ann = await person(room, "Ann", DESKTOP, keepScreen);
    const bob = await person(room, "Bob", { ...DESKTOP, colorScheme: "dark" });
    const chidi = await person(room, "Chidi", PHONE);
    const people = [ann, bob, chidi];
    await Promise.all(people.map(({ page }) => connectedPeers(page, 2)));
    for (const { page } of people) await joinCall(page);
    await ann.page.locator("#call-screen").click();
    // The browser's picker answers asynchronously (here at once, with its fake screen).
    await ann.page.locator('#call-screen[aria-pressed="true"]').waitFor();
    for (const { page } of [bob, chidi]) {
      const screen = tileOf(page, "Ann", "screen");
      await screen.waitFor();
      await expect(screen.locator(".tile-tag").textContent()).resolves.toBe("Screen");
      await showsRemoteTiles(page, 3);
      await expect(advancingVideos(page)).resolves.toBe(3);
    }
    // The screen is big, but the buttons still fit on a laptop's screen without scrolling.
    await bob.page.evaluate(() => window.scrollTo(0, 0));
    const controls = await bob.page.locator("#call-leave").boundingBox();
    expect((controls?.y ?? Number.POSITIVE_INFINITY) + (controls?.height ?? 0)).toBeLessThanOrEqual(800);
    await screenshot(bob.page, "call-screen-desktop-dark");
    await screenshot(chidi.page, "call-screen-phone-light");
    await screenshot(ann.page, "call-screen-sharer-desktop-light");

    // The browser's own "Stop sharing": the track ends, and the app stops publishing it.
    await ann.page.evaluate(() => {
      for (const track of window.sharedScreen?.getTracks() ?? []) {
        track.stop();
        track.dispatchEvent(new Event("ended"));
      }
    });
    await tileOf(bob.page, "Ann", "screen").waitFor({ state: "detached" });
    await tileOf(chidi.page, "Ann", "screen").waitFor({ state: "detached" });
    await expect(ann.page.locator("#call-screen").getAttribute("aria-pressed")).resolves.toBe("false");
    await expect(tileOf(bob.page, "Ann").count()).resolves.toBe(1);
    expect(people.flatMap(({ errors }) => errors)).toEqual([]);
    await Promise.all(people.map(({ page }) => page.context().close()));
  }, 180_000);
});
