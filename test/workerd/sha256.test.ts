import fc from "fast-check";
import { expect, it } from "vitest";
import { Sha256 } from "../../src/client/sha256";

async function reference(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

it("matches the known digests of the empty string and 'abc'", () => {
  expect(new Sha256().hex()).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  expect(new Sha256().update(new TextEncoder().encode("abc")).hex()).toBe(
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

it("matches WebCrypto for any data split at any points", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(600), { maxLength: 6 }), async (data, cuts) => {
      const hash = new Sha256();
      let start = 0;
      for (const cut of [...cuts].sort((x, y) => x - y)) {
        const end = Math.min(cut, data.length);
        hash.update(data.subarray(start, Math.max(start, end)));
        start = Math.max(start, end);
      }
      hash.update(data.subarray(start));
      expect(hash.hex()).toBe(await reference(data));
    }),
    { numRuns: 300 },
  );
});
