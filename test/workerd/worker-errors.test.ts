/**
 * The Worker's error boundary: what a handler did not expect becomes a JSON
 * 500 `internal` and one structured log line, with nothing of the failure in
 * the answer; anything unrouted is a JSON 404.
 */
import { env, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import app from "../../src/worker";
import { expectHttpError } from "./http-error";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("error boundary", () => {
  it("answers a handler that throws with 500 internal and logs one line", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const request = new Request("http://rendezvous.test/r/abc/ws?resume=secret-token&name=Ann", {
      headers: { Upgrade: "websocket" },
    });
    // A malformed variable makes readConfig throw inside the upgrade handler.
    const body = await expectHttpError(await app.fetch(request, { ...env, MAX_PEERS: "lots" }), 500, "internal");
    expect(body).not.toMatch(/MAX_PEERS|lots|Error|at /);
    expect(log).toHaveBeenCalledTimes(1);
    const line = String(log.mock.calls[0]?.[0]);
    expect(JSON.parse(line)).toEqual({
      event: "internal-error",
      method: "GET",
      route: "/r/:room/ws",
      error: "Error",
      message: 'MAX_PEERS must be a positive integer, got "lots"',
    });
    // The URL's query (a resume token, a name) stays out of the log.
    expect(line).not.toMatch(/secret-token|Ann/);
  });

  it("answers unrouted methods and paths with a JSON 404", async () => {
    await expectHttpError(await SELF.fetch("http://rendezvous.test/", { method: "POST" }), 404, "not-found");
    await expectHttpError(await SELF.fetch("http://rendezvous.test/r/abc/ws", { method: "DELETE" }), 404, "not-found");
    await expectHttpError(await SELF.fetch("http://rendezvous.test/no/such/asset.js"), 404, "not-found");
  });
});
