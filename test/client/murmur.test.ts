/**
 * MurmurHash3_x86_128 against the reference's values (seed 0, printed as h1…h4 in hex), for every length of tail
 * and for input that is not aligned to 4 bytes, which the hash reads through a copy.
 */
import { describe, expect, it } from "vitest";
import { murmur3 } from "../../src/client/murmur";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const text = (value: string) => new TextEncoder().encode(value);
/** 1,000 bytes of a fixed pattern. */
const pattern = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 255);

describe("murmur3", () => {
  it.each([
    ["", "00000000000000000000000000000000"],
    ["a", "a794933c5556b01b5556b01b5556b01b"],
    ["hello", "2b2444a0db91def79adb31b69adb31b6"],
    ["hello, world", "8b21605cb9b98a1e93273a83eb5957c7"],
    ["The quick brown fox jumps over the lazy dog", "2f1583c3ecee2c675d7bf66ce5e91d2c"],
  ])("hashes %j as the reference does", (value, expected) => {
    expect(hex(murmur3(text(value)))).toBe(expected);
  });

  it.each([
    [15, "74451dd64b41a317c80afdc81e08fb54"],
    [16, "111a7243d740ce9295aaeff69a99e135"],
    [17, "9f756c249ab789c74d5196b31f7e732e"],
    [1000, "4d8360c70d438bd73071ac5bf0611943"],
  ])("hashes the first %i bytes of a pattern as the reference does, aligned or not", (length, expected) => {
    expect(hex(murmur3(pattern.subarray(0, length)))).toBe(expected);
    const shifted = new Uint8Array(length + 1);
    shifted.set(pattern.subarray(0, length), 1);
    expect(hex(murmur3(shifted.subarray(1)))).toBe(expected);
  });

  it("tells a block from the same block with one bit flipped", () => {
    const block = pattern.slice();
    const before = hex(murmur3(block));
    block[500] = (block[500] ?? 0) ^ 1;
    expect(hex(murmur3(block))).not.toBe(before);
  });
});
