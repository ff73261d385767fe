/**
 * Launching Debian's Chromium with the flags WebRTC needs on a loopback-only
 * machine (see ../shared/BROWSER.md). Shared by the browser tests and the
 * benchmarks, so it depends on nothing but playwright-core.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM_PATH);

/** The flags every Chromium here needs, for a launch of another kind too (a persistent profile). */
export const CHROMIUM_FLAGS = [
  "--disable-gpu",
  "--disable-quic",
  "--allow-loopback-in-peer-connection",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS });
}
