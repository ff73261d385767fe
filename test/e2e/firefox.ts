/**
 * Launching Debian's Firefox ESR next to Chromium (see ../shared/BROWSER.md):
 * driven over WebDriver BiDi, which Firefox has built in, by puppeteer-core,
 * never a downloaded browser and no geckodriver. Like chromium.ts it depends
 * on nothing but puppeteer-core, so the benchmarks can use it too.
 *
 * Firefox gathers ICE candidates only on the address of its default route: in
 * a namespace with nothing but `lo` it connects to nobody. scripts/loopback.sh
 * gives the test namespace a default route that leads nowhere for this.
 */
import { existsSync } from "node:fs";
import { type Browser, launch, type Page } from "puppeteer-core";

export type { Browser as FirefoxBrowser, Page as FirefoxPage } from "puppeteer-core";

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr";
export const hasFirefox = existsSync(FIREFOX_PATH);

/**
 * What WebRTC needs on a loopback-only machine (plain host candidates, no mDNS
 * names), a fake camera and microphone with no prompt, media that plays
 * without a gesture; and no probes of the outside world, which the test
 * namespace's default route would swallow, keeping Firefox waiting for them.
 * puppeteer-core adds its own prefs against updates, telemetry and the like.
 */
export const FIREFOX_PREFS: Record<string, unknown> = {
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  "media.peerconnection.ice.loopback": true,
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  "media.autoplay.default": 0,
  // A test's WebAudio listens to remote tracks without a click first.
  "media.autoplay.block-webaudio": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
};

export function launchFirefox(): Promise<Browser> {
  return launch({
    browser: "firefox",
    executablePath: FIREFOX_PATH,
    headless: true,
    extraPrefsFirefox: FIREFOX_PREFS,
    // vitest owns the process's signals; the suite closes the browser itself.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

/**
 * A page in its own browser context (a Firefox container, with its own
 * storage), recording console errors and page errors, with its HTTP status.
 * Closing the page's `browserContext()` closes it.
 */
export async function openFirefoxPage(
  browser: Browser,
  url: string,
): Promise<{ page: Page; errors: string[]; status: number }> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error instanceof Error ? error.message : String(error)));
  const response = await page.goto(url);
  return { page, errors, status: response?.status() ?? 0 };
}
