/**
 * MurmurHash3_x86_128 (Austin Appleby's public-domain reference, seed 0):
 * the check of each block of a file (files.ts). It is no cryptographic hash
 * and need not be one. It guards a transfer against the library's own faults
 * (a block lost, repeated or misplaced across a resume, a bad write), which
 * it tells with odds of 2^-128. The only side that could forge a file is its
 * sender, which chooses the bytes anyway, and DTLS authenticates every byte
 * on the wire. Written in 32-bit integer arithmetic, it runs at several GB/s
 * in JavaScript and takes no copy of its input, where WebCrypto's SHA-256
 * copies each block and costs the pages of a transfer 5–10% of their rate
 * (docs/benchmarks.md).
 */

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

/** Whether this machine stores integers little-endian, as the hash reads its words (all browsers' platforms do). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
/** A word of input as it goes into its lane: multiplied, rotated, multiplied. */
const scramble = (k: number, a: number, r: number, b: number) => Math.imul(rotl(Math.imul(k, a), r), b);

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The first `body` bytes as little-endian 32-bit words: a view of them where the machine and their alignment
 * allow (every block the library hashes), a copy otherwise.
 */
function wordsOf(bytes: Uint8Array, body: number): Uint32Array {
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, body >> 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset, body);
  return Uint32Array.from({ length: body >> 2 }, (_, i) => view.getUint32(i * 4, true));
}

/** The 16-byte hash of `bytes`: its four 32-bit words h1…h4, each big-endian (as the reference prints them in hex). */
export function murmur3(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = bytes.length;
  const body = length - (length & 15);
  const words = wordsOf(bytes, body);
  let h1 = 0;
  let h2 = 0;
  let h3 = 0;
  let h4 = 0;
  for (let i = 0; i < body >> 2; i += 4) {
    h1 = (Math.imul((rotl(h1 ^ scramble(words[i] as number, C1, 15, C2), 19) + h2) | 0, 5) + 0x561ccd1b) | 0;
    h2 = (Math.imul((rotl(h2 ^ scramble(words[i + 1] as number, C2, 16, C3), 17) + h3) | 0, 5) + 0x0bcaa747) | 0;
    h3 = (Math.imul((rotl(h3 ^ scramble(words[i + 2] as number, C3, 17, C4), 15) + h4) | 0, 5) + 0x96cd1c35) | 0;
    h4 = (Math.imul((rotl(h4 ^ scramble(words[i + 3] as number, C4, 18, C1), 13) + h1) | 0, 5) + 0x32ac3b17) | 0;
  }
  // The last 1–15 bytes, little-endian into k1…k4, zero-padded; a lane is mixed only if the tail reaches it.
  const tail = new Uint8Array(16);
  tail.set(bytes.subarray(body));
  const k = new DataView(tail.buffer);
  const rest = length - body;
  if (rest > 12) h4 ^= scramble(k.getUint32(12, true), C4, 18, C1);
  if (rest > 8) h3 ^= scramble(k.getUint32(8, true), C3, 17, C4);
  if (rest > 4) h2 ^= scramble(k.getUint32(4, true), C2, 16, C3);
  if (rest > 0) h1 ^= scramble(k.getUint32(0, true), C1, 15, C2);
  h1 ^= length;
  h2 ^= length;
  h3 ^= length;
  h4 ^= length;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  const out = new DataView(new ArrayBuffer(16));
  for (const [at, h] of [h1, h2, h3, h4].entries()) out.setUint32(at * 4, h);
  return new Uint8Array(out.buffer);
}
