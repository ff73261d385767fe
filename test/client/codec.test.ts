/**
 * The signaling codecs, in Node's WebCrypto (the same API the browser has):
 * what a keyed room's peers exchange opens only for the intended peer, under
 * the same key, exactly once, in the same room, as the same message type.
 */
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { KeyMismatch, type PairCodec, type PeerSignal, plaintext, sealed } from "../../src/client/codec";
import { generateKey, parseKey } from "../../src/client/seal";
import type { ClientMessage } from "../../src/inbound";
import { type PeerFrame, ServerMessage } from "../../src/protocol";

type Relayed = Extract<ClientMessage, { type: "offer" | "answer" | "candidate" }>;

/** What the server makes of a client's frame: `to` replaced by the sender's id, checked by the protocol's schema. */
function relay(from: string, message: Relayed): Extract<PeerFrame, { type: PeerSignal["type"] }> {
  const { to: _, ...body } = message;
  const frame = v.parse(ServerMessage, { ...body, from });
  if (frame.type !== "offer" && frame.type !== "answer" && frame.type !== "candidate") throw new Error("not relayed");
  return frame;
}

const offer: PeerSignal = { type: "offer", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" };
const candidate: PeerSignal = {
  type: "candidate",
  candidate: { candidate: "candidate:1 1 udp 1 192.0.2.7 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 },
};

/** Ann's codec towards Bob and Bob's towards Ann, in `room` under `key`. */
function pair(key: string, room = "room", keyB = key, roomB = room): { ann: PairCodec; bob: PairCodec } {
  return { ann: sealed(key, room)("ann", "bob"), bob: sealed(keyB, roomB)("bob", "ann") };
}

describe("sealed signaling", () => {
  it("round-trips every payload, and the wire carries none of it", async () => {
    const { ann, bob } = pair(generateKey());
    for (const signal of [
      offer,
      { ...offer, type: "answer" } as const,
      candidate,
      { type: "candidate", candidate: null } as const,
    ]) {
      const wire = await ann.encode(signal);
      expect(wire).toEqual({ type: signal.type, to: "bob", sealed: expect.stringMatching(/^[A-Za-z0-9_-]+$/) });
      expect(JSON.stringify(wire)).not.toMatch(/v=0|192\.0\.2\.7|typ host|sdpMid/);
      await expect(bob.decode(relay("ann", wire))).resolves.toEqual(signal);
    }
  });

  it("uses a fresh IV for every frame", async () => {
    const { ann } = pair(generateKey());
    const a = await ann.encode(offer);
    const b = await ann.encode(offer);
    expect("sealed" in a && "sealed" in b && a.sealed.slice(0, 16) !== b.sealed.slice(0, 16)).toBe(true);
  });

  it("refuses a frame sealed under another key", async () => {
    const { ann, bob } = pair(generateKey(), "room", generateKey());
    await expect(bob.decode(relay("ann", await ann.encode(offer)))).rejects.toBeInstanceOf(KeyMismatch);
  });

  it("refuses a frame sealed for another room under the same key", async () => {
    const key = generateKey();
    const { ann, bob } = pair(key, "room", key, "other-room");
    await expect(bob.decode(relay("ann", await ann.encode(offer)))).rejects.toBeInstanceOf(KeyMismatch);
  });

  it("refuses a tampered ciphertext, IV or tag", async () => {
    const { ann, bob } = pair(generateKey());
    const wire = await ann.encode(offer);
    if (!("sealed" in wire)) throw new Error("not sealed");
    const bytes = Buffer.from(wire.sealed, "base64url");
    // A bit of the IV, of the ciphertext, and of the tag.
    for (const at of [0, 20, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[at] = (flipped[at] ?? 0) ^ 1;
      const tampered = { ...wire, sealed: flipped.toString("base64url") };
      await expect(bob.decode(relay("ann", tampered))).rejects.toBeInstanceOf(KeyMismatch);
    }
    await expect(bob.decode(relay("ann", { ...wire, sealed: wire.sealed.slice(0, 20) }))).rejects.toBeInstanceOf(
      KeyMismatch,
    );
    // The untouched frame still opens: only the tampering failed.
    await expect(bob.decode(relay("ann", wire))).resolves.toEqual(offer);
  });

  it("refuses a frame replayed into a link made anew for the same peer", async () => {
    const key = generateKey();
    const anns = sealed(key, "room");
    const ann = anns("ann", "bob");
    const bobs = sealed(key, "room");
    const wire = relay("ann", await ann.encode(offer));
    await expect(bobs("bob", "ann").decode(wire)).resolves.toEqual(offer);
    // A server announces Ann again: Bob's new link for her still knows what Ann already said.
    await expect(bobs("bob", "ann").decode(wire)).rejects.toBeInstanceOf(KeyMismatch);
    // And a new link of Ann's for Bob goes on counting, so Bob takes what it says.
    const again = relay("ann", await anns("ann", "bob").encode(offer));
    await expect(bobs("bob", "ann").decode(again)).resolves.toEqual(offer);
  });

  it("refuses a replayed frame, and accepts late ones it has not seen", async () => {
    const { ann, bob } = pair(generateKey());
    const first = relay("ann", await ann.encode(offer));
    const second = relay("ann", await ann.encode(candidate));
    // Held candidates may arrive after later frames: order is not required, uniqueness is.
    await expect(bob.decode(second)).resolves.toEqual(candidate);
    await expect(bob.decode(first)).resolves.toEqual(offer);
    await expect(bob.decode(first)).rejects.toBeInstanceOf(KeyMismatch);
    await expect(bob.decode(second)).rejects.toBeInstanceOf(KeyMismatch);
  });

  it("refuses a frame re-addressed to another peer, attributed to another sender, or retyped", async () => {
    const key = generateKey();
    const ann = sealed(key, "room")("ann", "bob");
    const wire = await ann.encode(offer);
    // The server hands Ann's offer for Bob to Carol.
    await expect(sealed(key, "room")("carol", "ann").decode(relay("ann", wire))).rejects.toBeInstanceOf(KeyMismatch);
    // The server claims Carol sent it to Bob.
    await expect(sealed(key, "room")("bob", "carol").decode(relay("carol", wire))).rejects.toBeInstanceOf(KeyMismatch);
    // The server turns the offer into an answer.
    const bob = sealed(key, "room")("bob", "ann");
    if (!("sealed" in wire)) throw new Error("not sealed");
    await expect(bob.decode(relay("ann", { ...wire, type: "answer" }))).rejects.toBeInstanceOf(KeyMismatch);
    await expect(bob.decode(relay("ann", wire))).resolves.toEqual(offer);
  });

  it("treats a plaintext frame in a keyed room, and a sealed one in a plain room, as a key mismatch", async () => {
    const keyed = sealed(generateKey(), "room")("bob", "ann");
    const plain = plaintext("bob", "ann");
    const plainWire = await plaintext("ann", "bob").encode(offer);
    const sealedWire = await sealed(generateKey(), "room")("ann", "bob").encode(offer);
    await expect(keyed.decode(relay("ann", plainWire))).rejects.toBeInstanceOf(KeyMismatch);
    await expect(plain.decode(relay("ann", sealedWire))).rejects.toBeInstanceOf(KeyMismatch);
    await expect(plain.decode(relay("ann", plainWire))).resolves.toEqual(offer);
  });

  it("refuses malformed keys at once", () => {
    expect(generateKey()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const canonical = generateKey();
    // The same 16 bytes with the last character's unused low bit set: one key has one spelling.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(canonical.slice(-1));
    const respelled = canonical.slice(0, -1) + alphabet[last ^ 1];
    for (const key of ["", "short", "not base64 at all!!", "A".repeat(20), "A".repeat(21)]) {
      expect(() => sealed(key, "room")).toThrow(TypeError);
    }
    expect(parseKey(generateKey())).toHaveLength(16);
    expect(parseKey(canonical)).toHaveLength(16);
    expect(Buffer.from(respelled, "base64url")).toEqual(Buffer.from(canonical, "base64url"));
    expect(() => parseKey(respelled)).toThrow(TypeError);
  });

  it("adds a third of the payload plus a few dozen bytes per frame (base64 of IV, tag and sequence number)", async () => {
    const { ann } = pair(generateKey());
    const sdp = `v=0\r\n${"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n".repeat(12)}`;
    for (const signal of [{ type: "offer", sdp } as const, candidate]) {
      const plain = JSON.stringify(await plaintext("ann", "bob").encode(signal));
      const wire = JSON.stringify(await ann.encode(signal));
      const overhead = wire.length - plain.length;
      console.log(`sealing adds ${overhead} bytes to a ${plain.length}-byte ${signal.type} frame`);
      expect(overhead).toBeLessThan(plain.length / 3 + 64);
    }
  });
});
