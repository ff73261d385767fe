/**
 * Browser suites: real Chromium through playwright-core, never a downloaded browser. Where no
 * Chromium is installed the browser tests say so loudly and are skipped, but
 * with CI=true a missing browser fails the run.
 */
import { describe, it } from "vitest";
import { CHROMIUM_PATH, hasChromium } from "./chromium";

export { launchBrowser } from "./chromium";

/** `describe` for suites that need a browser. */
export function describeWithBrowser(name: string, suite: () => void): void {
  if (hasChromium) {
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
