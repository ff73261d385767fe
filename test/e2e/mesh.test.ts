import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithBrowser, launchBrowser } from "./browser";
import { connectedTo, joinWithLibrary } from "./mesh-harness";
import { DevServer } from "./server";

describeWithBrowser("the mesh library in Chromium", () => {
  let server: DevServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([DevServer.start(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("connects two peers and carries messages both ways", async () => {
    const a = await joinWithLibrary(browser, server.url, "lib-two", "Ann");
    const b = await joinWithLibrary(browser, server.url, "lib-two", "Bob");
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)]);
    await a.page.evaluate(() => window.mesh.room.send({ hi: "from a" }));
    await b.page.evaluate(() => window.mesh.room.send("from b"));
    await b.page.waitForFunction(() => window.mesh.messages.length === 1);
    await a.page.waitForFunction(() => window.mesh.messages.length === 1);
    expect(await b.page.evaluate(() => window.mesh.messages)).toEqual([{ from: a.id, data: { hi: "from a" } }]);
    expect(await a.page.evaluate(() => window.mesh.messages)).toEqual([{ from: b.id, data: "from b" }]);
  });

  it("forms the full mesh of eight peers joining at once, and delivers every message exactly once", async () => {
    const started = Date.now();
    const peers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => joinWithLibrary(browser, server.url, "lib-eight", `Peer ${i + 1}`)),
    );
    await Promise.all(peers.map((peer) => connectedTo(peer, 7)));
    console.info(`8-peer mesh (28 connections) formed in ${Date.now() - started} ms, page start included`);
    await Promise.all(
      peers.map((peer) => peer.page.evaluate(() => window.mesh.room.send(`hello from ${window.mesh.room.id}`))),
    );
    for (const peer of peers) {
      await peer.page.waitForFunction(() => window.mesh.messages.length >= 7);
      const messages = await peer.page.evaluate(() => window.mesh.messages);
      const others = peers.filter((other) => other !== peer);
      expect(messages.map((m) => m.from).sort()).toEqual(others.map((other) => other.id).sort());
      for (const message of messages) expect(message.data).toBe(`hello from ${message.from}`);
    }
    // Nothing more arrives: a round of acknowledgements shows the channels are drained.
    await Promise.all(peers.map((peer) => peer.page.evaluate(() => window.mesh.room.send("end"))));
    for (const peer of peers) {
      await peer.page.waitForFunction(() => window.mesh.messages.filter((m) => m.data === "end").length === 7);
      expect(await peer.page.evaluate(() => window.mesh.messages.length)).toBe(14);
    }
    await Promise.all(peers.map((peer) => peer.page.context().close()));
  });
});
