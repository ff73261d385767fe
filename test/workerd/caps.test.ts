/**
 * Field caps: every relayed field is bounded, generously for real SDPs and
 * candidates, and a frame over a cap is refused with `bad-message` naming the
 * field, before anything is relayed or held.
 */
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { ClientMessage } from "../../src/inbound";
import {
  MAX_CANDIDATE_LENGTH,
  MAX_MID_LENGTH,
  MAX_MLINE_INDEX,
  MAX_SDP_LENGTH,
  MAX_SEALED_CANDIDATE_LENGTH,
  MAX_SEALED_SDP_LENGTH,
  MAX_UFRAG_LENGTH,
} from "../../src/protocol";
import { Peer } from "./peer";

let rooms = 0;
const freshRoom = () => `caps-${Date.now().toString(36)}-${rooms++}`;
const TO = "AAAAAAAAAAAAAAAAAAAAAA";

const candidate = (fields: Record<string, unknown>) => ({
  type: "candidate",
  to: TO,
  candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", sdpMid: "0", sdpMLineIndex: 0, ...fields },
});

/** Each message at a cap, and the field it names one past it. */
const cases: [string, (over: number) => unknown, number][] = [
  ["sdp", (n) => ({ type: "offer", to: TO, sdp: "v".repeat(n) }), MAX_SDP_LENGTH],
  ["sdp", (n) => ({ type: "answer", to: TO, sdp: "v".repeat(n) }), MAX_SDP_LENGTH],
  ["sealed", (n) => ({ type: "offer", to: TO, sealed: "A".repeat(n) }), MAX_SEALED_SDP_LENGTH],
  ["sealed", (n) => ({ type: "answer", to: TO, sealed: "A".repeat(n) }), MAX_SEALED_SDP_LENGTH],
  ["sealed", (n) => ({ type: "candidate", to: TO, sealed: "A".repeat(n) }), MAX_SEALED_CANDIDATE_LENGTH],
  ["candidate.candidate", (n) => candidate({ candidate: "c".repeat(n) }), MAX_CANDIDATE_LENGTH],
  ["candidate.sdpMid", (n) => candidate({ sdpMid: "m".repeat(n) }), MAX_MID_LENGTH],
  ["candidate.usernameFragment", (n) => candidate({ usernameFragment: "u".repeat(n) }), MAX_UFRAG_LENGTH],
  ["candidate.sdpMLineIndex", (n) => candidate({ sdpMLineIndex: n }), MAX_MLINE_INDEX],
];

function issuePath(message: unknown): string | null {
  const result = v.safeParse(ClientMessage, message);
  if (result.success) return null;
  return result.issues[0].path?.map((item) => String(item.key)).join(".") ?? "";
}

describe("field caps", () => {
  it.each(cases)("%s: accepted at its cap, refused past it", (field, make, cap) => {
    expect(issuePath(make(cap))).toBeNull();
    expect(issuePath(make(cap + 1))).toBe(field);
  });

  it("are what the measured browsers need, with room to spare", () => {
    // Chromium 156: a renegotiation to 2 audio + 2 video tracks and a data channel is 11,314 characters.
    expect(MAX_SDP_LENGTH).toBeGreaterThanOrEqual(2.5 * 11_314);
    // A sealed offer at the SDP cap, addressed to the longest id, fits a 64 KiB frame.
    const frame = JSON.stringify({ type: "answer", to: "x".repeat(64), sealed: "A".repeat(MAX_SEALED_SDP_LENGTH) });
    expect(new TextEncoder().encode(frame).length).toBeLessThanOrEqual(64 * 1024);
  });

  it("refuses an over-cap frame with bad-message naming the field, and relays nothing", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    const b = await Peer.join(room);
    await a.next("peer-joined");
    const to = b.welcome.id;
    a.send({ type: "offer", to, sdp: "v".repeat(MAX_SDP_LENGTH + 1) });
    expect(await a.next("error")).toMatchObject({
      code: "bad-message",
      ref: "offer",
      message: expect.stringMatching(/^sdp: /),
    });
    a.send({ type: "candidate", to, sealed: "A".repeat(MAX_SEALED_CANDIDATE_LENGTH + 1) });
    expect(await a.next("error")).toMatchObject({
      code: "bad-message",
      ref: "candidate",
      message: expect.stringMatching(/^sealed: /),
    });
    a.send({ type: "candidate", to, candidate: { candidate: "c".repeat(MAX_CANDIDATE_LENGTH + 1) } });
    expect(await a.next("error")).toMatchObject({
      code: "bad-message",
      ref: "candidate",
      message: expect.stringMatching(/^candidate\.candidate: /),
    });
    // At the cap, it goes through.
    a.send({ type: "offer", to, sdp: "v".repeat(MAX_SDP_LENGTH) });
    expect(await b.next("offer")).toEqual({ type: "offer", from: a.welcome.id, sdp: "v".repeat(MAX_SDP_LENGTH) });
    await b.expectNothing();
    a.close();
    b.close();
  });
});
