/**
 * Relay-only's second line of defence, on the strings Chromium and Firefox
 * produce: whatever the browser gathers or writes, only relay candidates,
 * with no related address, and SDPs without candidates or connection
 * addresses leave the page.
 */
import { describe, expect, it } from "vitest";
import { canRelay, isRelay, scrubSdp, withoutRelatedAddress } from "../../src/client/ice";

const HOST = "candidate:842163049 1 udp 2122260223 192.0.2.7 54400 typ host generation 0 ufrag EsAw network-id 1";
const SRFLX =
  "candidate:1467250027 1 udp 1686052607 203.0.113.9 61000 typ srflx raddr 192.0.2.7 rport 54400 generation 0 ufrag EsAw";
const PRFLX = "candidate:3 1 udp 1853824767 203.0.113.9 61001 typ prflx raddr 0.0.0.0 rport 0 generation 0";
const RELAY =
  "candidate:2157334355 1 udp 41885439 198.51.100.4 49170 typ relay raddr 203.0.113.9 rport 61000 generation 0 ufrag EsAw network-id 1";
// Firefox ends a relay candidate at its related port.
const RELAY_FIREFOX = "candidate:5 1 UDP 6094847 198.51.100.4 49171 typ relay raddr 203.0.113.9 rport 61002";

describe("relay-only candidates", () => {
  it("lets only relay candidates, and end-of-candidates, through", () => {
    for (const candidate of [HOST, SRFLX, PRFLX]) expect(isRelay({ candidate, sdpMid: "0" })).toBe(false);
    for (const candidate of [RELAY, RELAY_FIREFOX]) expect(isRelay({ candidate, sdpMid: "0" })).toBe(true);
    expect(isRelay(null)).toBe(true);
    expect(isRelay({ candidate: "", sdpMid: "0" })).toBe(true);
  });

  it("blanks the address the TURN server saw the peer at", () => {
    for (const candidate of [RELAY, RELAY_FIREFOX]) {
      const scrubbed = withoutRelatedAddress({ candidate, sdpMid: "0", sdpMLineIndex: 0 });
      expect(scrubbed?.candidate).not.toMatch(/203\.0\.113\.9|6100[02]/);
      expect(scrubbed?.candidate).toMatch(/ 198\.51\.100\.4 4917\d typ relay raddr 0\.0\.0\.0 rport 0/);
      expect(scrubbed).toMatchObject({ sdpMid: "0", sdpMLineIndex: 0 });
    }
  });
});

describe("relay-only SDP", () => {
  const sdp = [
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "m=application 54400 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 203.0.113.9",
    `a=${HOST}`,
    `a=${SRFLX}`,
    `a=${RELAY}`,
    "a=rtcp:54400 IN IP4 203.0.113.9",
    "a=ice-ufrag:EsAw",
    "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
    "m=audio 54401 UDP/TLS/RTP/SAVPF 111",
    "c=IN IP6 2001:db8::7",
    "a=rtcp:54401 IN IP6 2001:db8::7",
    "",
  ].join("\r\n");

  it("keeps no candidate, no connection address and no default port, whatever the line endings", () => {
    for (const text of [sdp, sdp.replaceAll("\r\n", "\n")]) {
      const scrubbed = scrubSdp(text);
      expect(scrubbed).not.toMatch(/a=candidate|a=rtcp:|192\.0\.2\.7|203\.0\.113\.9|2001:db8|198\.51\.100\.4|5440[01]/);
      expect(scrubbed).toMatch(/^c=IN IP4 0\.0\.0\.0\r?$/m);
      expect(scrubbed).toMatch(/^c=IN IP6 ::\r?$/m);
      expect(scrubbed).toMatch(/^m=application 9 UDP\/DTLS\/SCTP webrtc-datachannel\r?$/m);
      expect(scrubbed).toMatch(/^m=audio 9 UDP\/TLS\/RTP\/SAVPF 111\r?$/m);
    }
  });

  it("keeps everything else as it was, line endings included", () => {
    const kept = sdp.split("\r\n").filter((line) => !/^(a=candidate|c=|a=rtcp:|m=)/.test(line));
    expect(scrubSdp(sdp).split("\r\n")).toEqual(expect.arrayContaining(kept));
    expect(scrubSdp(sdp).endsWith("\r\n")).toBe(true);
    // The origin line is no address of ours: browsers always write 127.0.0.1 there.
    expect(scrubSdp(sdp)).toMatch(/^o=- 4611731400430051336 2 IN IP4 127\.0\.0\.1$/m);
  });
});

describe("canRelay", () => {
  it("needs a TURN URL with credentials", () => {
    expect(canRelay([{ urls: "stun:stun.example.com" }])).toBe(false);
    expect(canRelay([{ urls: "turn:turn.example.com" }])).toBe(false);
    expect(canRelay([{ urls: ["stun:a", "turns:b:5349"], username: "1:x", credential: "c" }])).toBe(true);
  });
});
