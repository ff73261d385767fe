/**
 * Real Chromium through playwright-core, never a downloaded browser. Where no
 * Chromium is installed the browser tests say so loudly and are skipped, but
 * with CI=true a missing browser fails the run.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { describe, it } from "vitest";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasBrowser = existsSync(CHROMIUM_PATH);

/** Flags WebRTC needs on a loopback-only machine (see ../shared/BROWSER.md). */
const FLAGS = [
  "--disable-gpu",
  "--disable-quic",
  "--allow-loopback-in-peer-connection",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS });
}

/** `describe` for suites that need a browser. */
export function describeWithBrowser(name: string, suite: () => void): void {
  if (hasBrowser) {
    describe(name, suite);
    return;
  }
  const banner = `NO CHROMIUM at ${CHROMIUM_PATH}: the browser tests "${name}" cannot run (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI === "true") {
    describe(name, () => {
      it("has a browser to run in", () => {
        throw new Error(banner);
      });
    });
    return;
  }
  console.warn(`\n${"!".repeat(banner.length)}\n${banner}\n${"!".repeat(banner.length)}\n`);
  describe.skip(name, suite);
}
