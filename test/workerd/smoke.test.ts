import { SELF } from "cloudflare:test";
import { expect, it } from "vitest";

it("answers healthz", async () => {
  const res = await SELF.fetch("http://example.com/healthz");
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true });
});

it("welcomes a peer", async () => {
  const res = await SELF.fetch("http://example.com/r/abc/ws?name=Ann", { headers: { Upgrade: "websocket" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket;
  if (!ws) throw new Error("no socket");
  const first = new Promise<string>((resolve) => ws.addEventListener("message", (e) => resolve(String(e.data))));
  ws.accept();
  console.log(await first);
  ws.close();
});
