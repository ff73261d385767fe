/**
 * A tap on one page's signaling socket (Playwright's WebSocket routing), to
 * play a bad network: swallow the heartbeat so the socket looks dead while
 * staying open, or cut the socket and refuse reconnections for a while.
 */
import type { Page, WebSocketRoute } from "playwright-core";

export class SignalingTap {
  /** Connections the page opened so far. */
  connections = 0;
  /** While set, `ping` frames reach nobody: no `pong` comes back, yet the socket stays open. */
  swallowPings = false;
  /** While set, new connections are closed at once, as if the server were unreachable. */
  refuse = false;
  #current: WebSocketRoute | null = null;

  /** Taps the page's signaling sockets for one room. */
  static async install(page: Page, room: string): Promise<SignalingTap> {
    const tap = new SignalingTap();
    await page.routeWebSocket(
      (url) => url.pathname === `/r/${room}/ws`,
      (route) => tap.#route(route),
    );
    return tap;
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
    server.onMessage((message) => page.send(message));
    page.onClose((code, reason) => void server.close({ code: code ?? 1000, reason }));
    server.onClose((code, reason) => void page.close({ code: code ?? 1000, reason }));
  }
}
