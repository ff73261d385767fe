/**
 * Calls through `/mesh.js` in real browsers with fake devices, against
 * wrangler dev: Chromium and Firefox decode each other's video and hear each
 * other's audio; a latecomer gets every stream; both sides publishing
 * different kinds at once does not deadlock; mute, replaceTrack, removeStream
 * and a labelled screen share work without renegotiating; chat keeps working.
 */
import { expect, it } from "vitest";
import { describeWithBrowser, firefoxRequirement, openPage, useStack } from "./browser";
import {
  type CallPage,
  callPage,
  connectedPeers,
  decodeFrames,
  hears,
  joinCall,
  publishCamera,
  publishSynthetic,
  receivedCodecs,
  remoteTracks,
  waitForMuted,
  waitForTracks,
} from "./call-harness";
import { openFirefoxPage } from "./firefox";

/** Calls start four browsers' media pipelines on two cores: generous, for a loaded machine. */
const CALL_TIMEOUT_MS = 120_000;
/** Frames a receiver must decode from a track before it counts as flowing. */
const FRAMES = 10;

interface Caller {
  page: CallPage;
  id: string;
}

describeWithBrowser("calls", () => {
  const stack = useStack({}, { firefox: true });

  async function chromium(room: string, name: string): Promise<Caller> {
    const { page } = await openPage(stack.browser, `${stack.server.url}/`);
    const driver = callPage((script) => page.evaluate(script));
    return { page: driver, id: await joinCall(driver, room, name) };
  }

  async function firefox(room: string, name: string): Promise<Caller> {
    const { page } = await openFirefoxPage(stack.firefox, `${stack.server.url}/`);
    const driver = callPage((script) => page.evaluate(script));
    return { page: driver, id: await joinCall(driver, room, name) };
  }

  it(
    "two Chromium peers and a Firefox peer publish camera and microphone: each decodes and hears the others",
    async () => {
      // Firefox joins second: it makes the first offer to Ann and answers Bob's, so it adds media slots once and
      // opens the slots Bob adds once.
      const peers = [await chromium("call-three", "Ann"), await firefox("call-three", "Fox")];
      peers.push(await chromium("call-three", "Bob"));
      await Promise.all(peers.map(({ page }) => connectedPeers(page, 2)));
      await Promise.all(peers.map(({ page }) => publishCamera(page)));
      await Promise.all(peers.map(({ page }) => waitForTracks(page, 4)));
      for (const receiver of peers) {
        const kinds = (await remoteTracks(receiver.page)).map(({ kind, label }) => `${label}/${kind}`).sort();
        expect(kinds).toEqual(["camera/audio", "camera/audio", "camera/video", "camera/video"]);
        for (const sender of peers) {
          if (sender !== receiver) expect(await decodeFrames(receiver.page, sender.id, "camera", FRAMES)).not.toBe("");
        }
        // Audio decoded on each of its two connections.
        expect(await hears(receiver.page, "sound", 3_000)).toBe(true);
        expect((await receivedCodecs(receiver.page)).map((codec) => codec.toLowerCase())).toEqual([
          "audio/opus",
          "video/vp8",
        ]);
      }
    },
    CALL_TIMEOUT_MS,
  );

  it(
    "gives a peer that joins mid-call every stream, without anyone publishing again",
    async () => {
      const a = await chromium("call-late", "Ann");
      const b = await chromium("call-late", "Bob");
      await Promise.all([connectedPeers(a.page, 1), connectedPeers(b.page, 1)]);
      await publishSynthetic(a.page, "camera", { color: "#ff0000", tone: true });
      await publishSynthetic(b.page, "camera", { color: "#0000ff", tone: true });
      await Promise.all([waitForTracks(a.page, 2), waitForTracks(b.page, 2)]);
      const offersBefore = await Promise.all([a, b].map(({ page }) => page.evaluate(() => window.call.offers, null)));
      const late = await chromium("call-late", "Cy");
      await connectedPeers(late.page, 2);
      await waitForTracks(late.page, 4);
      expect(await decodeFrames(late.page, a.id, "camera", FRAMES)).toMatch(/^2[0-9]{2},[0-9]{1,2},[0-9]{1,2}$/);
      expect(await decodeFrames(late.page, b.id, "camera", FRAMES)).toMatch(/^[0-9]{1,2},[0-9]{1,2},2[0-9]{2}$/);
      // The established pair did not renegotiate for the newcomer.
      expect(await Promise.all([a, b].map(({ page }) => page.evaluate(() => window.call.offers, null)))).toEqual(
        offersBefore,
      );
    },
    CALL_TIMEOUT_MS,
  );

  it(
    "delivers both when two peers publish different kinds at the same moment (glare)",
    async () => {
      const a = await chromium("call-glare", "Ann");
      const b = await chromium("call-glare", "Bob");
      await Promise.all([connectedPeers(a.page, 1), connectedPeers(b.page, 1)]);
      await Promise.all([
        publishSynthetic(a.page, "mic", { tone: true }),
        publishSynthetic(b.page, "cam", { color: "#00ff00" }),
      ]);
      await Promise.all([waitForTracks(a.page, 1), waitForTracks(b.page, 1)]);
      expect(await decodeFrames(a.page, b.id, "cam", FRAMES)).toMatch(/^[0-9]{1,2},2[0-9]{2},[0-9]{1,2}$/);
      expect(await hears(b.page, "sound", 3_000)).toBe(true);
      // One renegotiation in all, by the newcomer: the media slots, added once.
      const offers = await Promise.all([a, b].map(({ page }) => page.evaluate(() => window.call.offers, null)));
      expect(offers).toEqual([0, 2]);
    },
    CALL_TIMEOUT_MS,
  );

  it(
    "mutes and unmutes, switches tracks, shares a screen and removes streams, all without renegotiating, while chat goes on",
    async () => {
      const a = await chromium("call-controls", "Ann");
      const b = await chromium("call-controls", "Bob");
      await Promise.all([connectedPeers(a.page, 1), connectedPeers(b.page, 1)]);
      await publishSynthetic(a.page, "camera", { color: "#ff0000", tone: true });
      await waitForTracks(b.page, 2);
      const offers = () => Promise.all([a, b].map(({ page }) => page.evaluate(() => window.call.offers, null)));
      const settled = await offers();
      expect(await hears(b.page, "sound", 3_000)).toBe(true);

      // Mute: silence, and the receiver is told; unmute: sound again.
      await a.page.evaluate(() => {
        const [track] = window.call.local.get("camera")?.getAudioTracks() ?? [];
        if (track) window.call.room.setMuted(track, true);
      }, null);
      await waitForMuted(b.page, "audio", true);
      expect(await hears(b.page, "silence", 3_000)).toBe(true);
      await a.page.evaluate(() => {
        const [track] = window.call.local.get("camera")?.getAudioTracks() ?? [];
        if (track) window.call.room.setMuted(track, false);
      }, null);
      await waitForMuted(b.page, "audio", false);
      expect(await hears(b.page, "sound", 3_000)).toBe(true);

      // replaceTrack: the receiver's picture turns from red to blue on the same track.
      await publishSynthetic(a.page, "spare", { color: "#0000ff" });
      await a.page.evaluate(() => {
        const spare = window.call.local.get("spare");
        const [next] = spare?.getVideoTracks() ?? [];
        const [old] = window.call.local.get("camera")?.getVideoTracks() ?? [];
        if (!spare || !next || !old) throw new Error("no tracks");
        window.call.room.removeStream(spare);
        window.call.room.replaceTrack(old, next);
      }, null);
      expect(await decodeFrames(b.page, a.id, "camera", FRAMES * 3)).toMatch(/^[0-9]{1,2},[0-9]{1,2},2[0-9]{2}$/);

      // A screen share is a second stream with its own label.
      await publishSynthetic(a.page, "screen", { color: "#00ff00" });
      await b.page.evaluate(
        () =>
          window.call.until("track", () =>
            window.call.remote.some((r) => r.label === "screen" && r.track.readyState === "live"),
          ),
        null,
      );
      expect(await decodeFrames(b.page, a.id, "screen", FRAMES)).toMatch(/^[0-9]{1,2},2[0-9]{2},[0-9]{1,2}$/);
      expect(await decodeFrames(b.page, a.id, "camera", FRAMES)).toMatch(/^[0-9]{1,2},[0-9]{1,2},2[0-9]{2}$/);

      // Chat during the call.
      await a.page.evaluate(() => window.call.room.send("still here"), null);
      await b.page.evaluate(() => window.call.until("message", () => window.call.messages.length > 0), null);
      expect(await b.page.evaluate(() => window.call.messages, null)).toEqual(["still here"]);

      // removeStream: the receiver's tracks of that stream end, and it hears stream-removed.
      await a.page.evaluate(() => {
        const screen = window.call.local.get("screen");
        if (screen) window.call.room.removeStream(screen);
      }, null);
      // The spare stream may have come and gone before: wait for the screen's own removal.
      await b.page.evaluate(
        () =>
          window.call.until("stream-removed", () =>
            window.call.removed.some(({ stream }) =>
              window.call.remote.some((remote) => remote.label === "screen" && remote.stream === stream),
            ),
          ),
        null,
      );
      const tracks = await remoteTracks(b.page);
      expect(tracks.filter(({ label }) => label === "screen").map(({ readyState }) => readyState)).toEqual(["ended"]);
      expect(tracks.filter(({ label }) => label === "camera").map(({ readyState }) => readyState)).toEqual([
        "live",
        "live",
      ]);
      // None of it renegotiated.
      expect(await offers()).toEqual(settled);
    },
    CALL_TIMEOUT_MS,
  );
}, [firefoxRequirement]);
