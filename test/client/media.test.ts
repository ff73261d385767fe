/** The bitrate policy of calls: a mesh shares one uplink among the peers it sends to. */
import { describe, expect, it, vi } from "vitest";
import { videoCaps } from "../../src/client/media";
import { joinRoom } from "../../src/client/mesh";

describe("videoCaps", () => {
  it("splits the uplink among the peers, at most 1.5 Mbps a connection", () => {
    expect(videoCaps(3_000_000, 1).maxBitrate).toBe(1_500_000);
    expect(videoCaps(3_000_000, 2).maxBitrate).toBe(1_500_000);
    expect(videoCaps(3_000_000, 3).maxBitrate).toBe(1_000_000);
    expect(videoCaps(3_000_000, 7).maxBitrate).toBe(428_571);
  });

  it("halves camera resolution from 4 people in the room on", () => {
    expect([1, 2, 3, 7].map((peers) => videoCaps(3_000_000, peers).scaleResolutionDownBy)).toEqual([1, 1, 2, 2]);
  });

  it("treats nobody to send to as one, so a lone publisher is capped like a pair", () => {
    expect(videoCaps(3_000_000, 0)).toEqual(videoCaps(3_000_000, 1));
  });
});

describe("addStream", () => {
  /** Stands in for a MediaStream: addStream reads its tracks' kinds and listens for their end. */
  const stream = (...kinds: string[]) => {
    const tracks = kinds.map((kind) => Object.assign(new EventTarget(), { kind, readyState: "live" }));
    return { getTracks: () => tracks } as unknown as MediaStream;
  };

  it("publishes at most 2 audio and 2 video tracks at once, as many as there are slots", () => {
    vi.stubGlobal("WebSocket", class extends EventTarget {});
    try {
      const room = joinRoom("abc", { server: "https://rendezvous.test" });
      room.addStream(stream("audio", "video"));
      room.addStream(stream("audio", "video"));
      expect(() => room.addStream(stream("audio"))).toThrow(RangeError);
      expect(() => room.addStream(stream("video"))).toThrow(RangeError);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
