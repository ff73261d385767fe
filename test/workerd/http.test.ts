import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { expectHttpError } from "./http-error";
import { upgrade } from "./peer";

describe("GET /healthz", () => {
  it("is 200 {ok:true}", async () => {
    const response = await SELF.fetch("http://rendezvous.test/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });
});

describe("pages", () => {
  for (const path of ["/", "/r/abc"]) {
    it(`${path} is an HTML page with a self-only CSP and no referrer`, async () => {
      const response = await SELF.fetch(`http://rendezvous.test${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await response.text()).toMatch(/^<!doctype html>/i);
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/\*|https?:|unsafe/);
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("x-frame-options")).toBe("DENY");
    });
  }

  it("serves one room page for every valid room", async () => {
    const a = await (await SELF.fetch("http://rendezvous.test/r/abc")).text();
    const b = await (await SELF.fetch("http://rendezvous.test/r/Another_room-2")).text();
    expect(a).toBe(b);
  });

  it("refuses a page for an invalid room name", async () => {
    await expectHttpError(await SELF.fetch("http://rendezvous.test/r/a%20b"), 400, "bad-room");
  });

  it("is a JSON 404 for anything else", async () => {
    await expectHttpError(await SELF.fetch("http://rendezvous.test/nope"), 404, "not-found");
  });
});

describe("GET /r/:room/ws", () => {
  it("refuses bad room names with 400 bad-room", async () => {
    for (const room of ["a%20b", "x".repeat(65), "%C3%A9t%C3%A9", "a.b", "%2F"]) {
      await expectHttpError(await upgrade(room), 400, "bad-room");
    }
  });

  it("accepts every valid room-name shape", async () => {
    for (const room of ["a", "x".repeat(64), "A-z_0-9"]) {
      const response = await upgrade(room);
      expect(response.status).toBe(101);
      response.webSocket?.accept();
      response.webSocket?.close();
    }
  });

  it("answers 426 upgrade-required without an upgrade, after the room-name check", async () => {
    await expectHttpError(await SELF.fetch("http://rendezvous.test/r/abc/ws"), 426, "upgrade-required");
    await expectHttpError(await SELF.fetch("http://rendezvous.test/r/a%20b/ws"), 400, "bad-room");
  });

  it("refuses cross-site origins with 403 bad-origin", async () => {
    await expectHttpError(await upgrade("abc", { origin: "https://evil.example" }), 403, "bad-origin");
    await expectHttpError(await upgrade("abc", { origin: "null" }), 403, "bad-origin");
    await expectHttpError(await upgrade("abc", { origin: "garbage" }), 403, "bad-origin");
  });

  it("accepts no origin, the same host, and listed origins", async () => {
    for (const origin of [undefined, "http://rendezvous.test", "https://app.example.com"]) {
      const response = await upgrade("abc", origin === undefined ? {} : { origin });
      expect(response.status).toBe(101);
      response.webSocket?.accept();
      response.webSocket?.close();
    }
  });
});
