/**
 * Browser suites: real Chromium through playwright-core, and for cross-browser
 * suites real Firefox ESR through puppeteer-core, never a downloaded browser.
 * Where a browser is not installed the browser tests say so loudly and are
 * skipped, but with CI=true a missing browser fails the run.
 */
import type { Browser, BrowserContextOptions, Page } from "playwright-core";
import { afterAll, beforeAll, describe, it } from "vitest";
import { CHROMIUM_PATH, hasChromium, launchBrowser } from "./chromium";
import { FIREFOX_PATH, type FirefoxBrowser, hasFirefox, launchFirefox } from "./firefox";
import { DevServer, type DevServerOptions } from "./server";

export { launchBrowser } from "./chromium";

/** A program a suite needs besides Chromium, and how to get it. */
export interface Requirement {
  what: string;
  present: boolean;
  install: string;
}

const chromiumRequirement: Requirement = {
  what: `Chromium at ${CHROMIUM_PATH}`,
  present: hasChromium,
  install: "apt-get install chromium, or set CHROMIUM_PATH",
};

/** Pass to `describeWithBrowser` in suites that open Firefox pages too (`useStack(…, { firefox: true })`). */
export const firefoxRequirement: Requirement = {
  what: `Firefox at ${FIREFOX_PATH}`,
  present: hasFirefox,
  install: "apt-get install firefox-esr, or set FIREFOX_PATH",
};

/** `describe` for suites that need a browser, and maybe more. */
export function describeWithBrowser(name: string, suite: () => void, needs: Requirement[] = []): void {
  const missing = [chromiumRequirement, ...needs].filter((need) => !need.present);
  if (missing.length === 0) {
    describe(name, suite);
    return;
  }
  const list = missing.map((need) => `${need.what} (${need.install})`).join("; ");
  const banner = `MISSING ${list}: the browser tests "${name}" cannot run`;
  if (process.env.CI === "true") {
    describe(name, () => {
      it("has what it needs to run", () => {
        throw new Error(banner);
      });
    });
    return;
  }
  console.warn(`\n${"!".repeat(banner.length)}\n${banner}\n${"!".repeat(banner.length)}\n`);
  describe.skip(name, suite);
}

/** Browsers a suite needs besides Chromium. */
export interface StackBrowsers {
  /** Firefox as well, for `openFirefoxPage` (needs `firefoxRequirement`). */
  firefox?: boolean;
}

/** A suite's wrangler dev and browsers, started before its tests and stopped after them. */
export class Stack {
  #server: DevServer | null = null;
  #browser: Browser | null = null;
  #firefox: FirefoxBrowser | null = null;

  get server(): DevServer {
    if (!this.#server) throw new Error("the suite's server has not started");
    return this.#server;
  }

  get browser(): Browser {
    if (!this.#browser) throw new Error("the suite's browser has not started");
    return this.#browser;
  }

  /** The suite's Firefox, if it asked for one. */
  get firefox(): FirefoxBrowser {
    if (!this.#firefox) throw new Error("the suite's Firefox has not started (useStack(…, { firefox: true }))");
    return this.#firefox;
  }

  async start(options: DevServerOptions, browsers: StackBrowsers = {}): Promise<void> {
    [this.#server, this.#browser, this.#firefox] = await Promise.all([
      DevServer.start(options),
      launchBrowser(),
      browsers.firefox ? launchFirefox() : null,
    ]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.#browser?.close(), this.#firefox?.close()]);
    await this.#server?.stop();
  }
}

/** Registers the suite's stack with vitest; read its fields inside tests. */
export function useStack(options: DevServerOptions = {}, browsers: StackBrowsers = {}): Stack {
  const stack = new Stack();
  beforeAll(() => stack.start(options, browsers));
  afterAll(() => stack.stop());
  return stack;
}

/** A page in its own browser context, recording console errors (CSP violations included), with its HTTP status. */
export async function openPage(
  browser: Browser,
  url: string,
  options: BrowserContextOptions = {},
): Promise<{ page: Page; errors: string[]; status: number }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  const response = await page.goto(url);
  return { page, errors, status: response?.status() ?? 0 };
}
