/**
 * A tap on one page's signaling socket (Playwright's WebSocket routing), to
 * play a bad network: swallow the heartbeat so the socket looks dead while
 * staying open, make it half-open (what the server sends is lost), cut the
 * socket and refuse reconnections for a while, or hold back what the server
 * says (its welcome) on a connection. It also reads the
 * resume token of the last welcome, as a second tab with the same state would
 * hold it.
 */
import type { Page, WebSocketRoute } from "playwright-core";

/** Resolves once `check` holds, polling from the test's side (the tap's state lives there). */
export async function until(check: () => boolean, timeout: number): Promise<void> {
  for (const deadline = Date.now() + timeout; !check(); ) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export class SignalingTap {
  /** Connections the page opened so far. */
  connections = 0;
  /** While set, `ping` frames reach nobody: no `pong` comes back, yet the socket stays open. */
  swallowPings = false;
  /** While set, what the server sends is lost on the way, though the server's sends succeed: a half-open socket. */
  deaf = false;
  /** Frames lost while `deaf`. */
  lost: string[] = [];
  /** While set, new connections are closed at once, as if the server were unreachable. */
  refuse = false;
  /** While set, what the server says on new connections is held back until `release()`. */
  hold = false;
  /** Frames held back on the latest connection, not yet released. */
  held: string[] = [];
  /** The resume token of the last welcome the server sent. */
  resume: string | null = null;
  #current: WebSocketRoute | null = null;
  #release: () => void = () => undefined;

  /** Taps the page's signaling sockets for one room. */
  static async install(page: Page, room: string): Promise<SignalingTap> {
    const tap = new SignalingTap();
    await page.routeWebSocket(
      (url) => url.pathname === `/r/${room}/ws`,
      (route) => tap.#route(route),
    );
    return tap;
  }

  /** Delivers the frames held back, in order; later ones flow again. */
  release(): void {
    this.#release();
  }

  /** Cuts the current connection, as a network drop would. */
  async cut(): Promise<void> {
    await this.#current?.close({ code: 4000, reason: "cut by the test" });
  }

  #route(page: WebSocketRoute): void {
    this.connections += 1;
    if (this.refuse) {
      void page.close({ code: 4000, reason: "refused by the test" });
      return;
    }
    this.#current = page;
    const server = page.connectToServer();
    page.onMessage((message) => {
      if (!(this.swallowPings && message === "ping")) server.send(message);
    });
    let holding = this.hold;
    const held: string[] = [];
    this.held = held;
    this.#release = () => {
      holding = false;
      for (const frame of held.splice(0)) page.send(frame);
    };
    server.onMessage((message) => {
      if (this.deaf) {
        this.lost.push(String(message));
        return;
      }
      this.#readWelcome(message);
      if (holding && typeof message === "string") held.push(message);
      else page.send(message);
    });
    page.onClose((code, reason) => void server.close({ code: code ?? 1000, reason }));
    server.onClose((code, reason) => void page.close({ code: code ?? 1000, reason }));
  }

  #readWelcome(message: string | Buffer): void {
    if (typeof message !== "string" || !message.includes('"welcome"')) return;
    const frame: unknown = JSON.parse(message);
    if (typeof frame === "object" && frame !== null && "resume" in frame && typeof frame.resume === "string") {
      this.resume = frame.resume;
    }
  }
}
