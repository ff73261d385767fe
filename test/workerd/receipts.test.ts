/**
 * Read receipts against a receiver that stops reading. workerd has no
 * WebSocket backpressure, so the room can only know that a socket is read
 * when its client answers an `ack-request`. A receiver that does not answer
 * is sent at most UNREAD_MAX_BYTES, then closed with 4009 and held for like
 * any away peer, however long the others keep sending; one that answers is
 * sent without end.
 *
 * Each round, seven senders spend their whole byte budget toward one
 * receiver; the room is evicted between rounds, which refills the budgets
 * (they are in memory) and proves that the unread count is not (it is in
 * the socket's attachment).
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { utf8Length } from "../../src/limits";
import { CloseCode, type ServerMessage } from "../../src/protocol";
import { UNREAD_ASK_BYTES, UNREAD_MAX_BYTES } from "../../src/receipts";
import { Peer, roomStub } from "./peer";
import { failNext } from "./sql-failure";

let rooms = 0;
const freshRoom = () => `receipts-${Date.now().toString(36)}-${rooms++}`;

/** Two of these fit one pair's 64 KiB per 10 s. */
const sdp = (n: number) => `${n}:${"x".repeat(30 * 1024)}`;
const ROUNDS = 8;

async function fullRoom(room: string) {
  const receiver = await Peer.join(room, { name: "Reader" });
  const senders = [];
  for (let i = 0; i < 7; i++) senders.push(await Peer.join(room));
  for (const peer of [receiver, ...senders]) await peer.drain();
  return { receiver, senders };
}

/** Every sender spends its budget toward `to`; none of them may hear anything back. */
async function round(senders: Peer[], to: string, round: number): Promise<number> {
  for (const [i, sender] of senders.entries()) {
    for (let k = 0; k < 2; k++) sender.send({ type: "offer", to, sdp: sdp(round * 100 + i * 2 + k) });
  }
  for (const sender of senders) expect(await sender.drain()).toEqual([]);
  return senders.length * 2;
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** The read receipt the room keeps in the attachment of `id`'s open socket. */
async function receipt(room: string, id: string): Promise<{ sent: number; nonce: string | null }> {
  return runInDurableObject(roomStub(room), (_, state) => {
    for (const socket of state.getWebSockets()) {
      const attachment: unknown = socket.deserializeAttachment();
      if (typeof attachment !== "object" || attachment === null || !("peer" in attachment)) continue;
      if (attachment.peer !== id || !("receipt" in attachment)) continue;
      const { receipt } = attachment;
      if (typeof receipt === "object" && receipt !== null && "sent" in receipt && "nonce" in receipt) {
        return { sent: Number(receipt.sent), nonce: receipt.nonce === null ? null : String(receipt.nonce) };
      }
    }
    throw new Error(`no socket for ${id}`);
  });
}

/** Whether the room holds `id` as away: every event it was sent has been handled by then. */
async function isAway(room: string, id: string): Promise<boolean> {
  return runInDurableObject(roomStub(room), (_, state) => {
    const row = state.storage.sql.exec<{ away: number | null }>(
      "SELECT away_until AS away FROM peers WHERE id = ?",
      id,
    );
    return row.one().away !== null;
  });
}

const offers = (frames: ServerMessage[]) => frames.filter((frame) => frame.type === "offer");
const rawBytes = (peer: Peer) => peer.raw.reduce((sum, frame) => sum + utf8Length(frame), 0);

describe("read receipts", () => {
  it("keeps sending a receiver that answers each ack-request, far past the unread cap", async () => {
    const room = freshRoom();
    const { receiver, senders } = await fullRoom(room);
    let sent = 0;
    let received = 0;
    let requests = 0;
    for (let n = 0; n < ROUNDS; n++) {
      sent += await round(senders, receiver.welcome.id, n);
      const frames = await receiver.drain();
      received += offers(frames).length;
      expect(frames.filter((frame) => frame.type === "error")).toEqual([]);
      for (const frame of frames) {
        if (frame.type !== "ack-request") continue;
        requests += 1;
        receiver.send({ type: "ack", nonce: frame.nonce });
      }
      await evictDurableObject(roomStub(room));
    }
    expect(rawBytes(receiver)).toBeGreaterThan(UNREAD_MAX_BYTES);
    expect(received).toBe(sent);
    // About one request per UNREAD_ASK_BYTES: asked again only once the last was answered.
    expect(requests).toBeGreaterThanOrEqual(Math.floor(rawBytes(receiver) / UNREAD_ASK_BYTES) - ROUNDS);
    expect(requests).toBeLessThanOrEqual(Math.ceil(rawBytes(receiver) / UNREAD_ASK_BYTES));
  });

  it(`closes a receiver that never answers with 4009 before ${UNREAD_MAX_BYTES / 1024 / 1024} MiB, keeps its seat, and holds the rest for it`, async () => {
    const room = freshRoom();
    const { receiver, senders } = await fullRoom(room);
    let sent = 0;
    for (let n = 0; n < ROUNDS && !(await isAway(room, receiver.welcome.id)); n++) {
      sent += await round(senders, receiver.welcome.id, n);
      await evictDurableObject(roomStub(room));
    }
    await receiver.expectClose(CloseCode.notReading);
    // Everything the room sent it is what it would have had to buffer: within the cap.
    expect(rawBytes(receiver)).toBeLessThanOrEqual(UNREAD_MAX_BYTES);
    const requests = receiver.raw.filter((frame) => frame.includes('"ack-request"'));
    expect(requests).toHaveLength(1);
    // Not gone: away, like after a blip. Nobody hears of it.
    for (const sender of senders) expect(await sender.drain()).toEqual([]);
    const before = receiver.raw.filter((frame) => frame.includes('"offer"')).length;
    expect(before).toBeLessThan(sent);
    // It resumes, and what it missed was held for it, in full.
    const resumed = await Peer.join(room, { resume: receiver.welcome.resume });
    expect(resumed.welcome).toMatchObject({ id: receiver.welcome.id, resumed: true });
    expect(offers(await resumed.drain())).toHaveLength(sent - before);
  });

  it("applies an ack even while its sender is rate-limited", async () => {
    const room = freshRoom();
    const { receiver, senders } = await fullRoom(room);
    await round(senders, receiver.welcome.id, 0);
    const request = (await receiver.drain()).find((frame) => frame.type === "ack-request");
    if (request?.type !== "ack-request") throw new Error("no ack-request after 420 KiB");
    // Another round: far more than UNREAD_ASK_BYTES are unconfirmed past the request.
    await evictDurableObject(roomStub(room));
    await round(senders, receiver.welcome.id, 1);
    await receiver.drain();
    // Spend the receiver's burst, then answer: the ack is applied all the same, so the room asks again at once.
    for (let n = 0; n < 250; n++) receiver.send({ type: "ready", to: "~nobody" });
    receiver.send({ type: "ack", nonce: request.nonce });
    const seen: string[] = [];
    for (let next = await receiver.next(); next.type !== "ack-request"; next = await receiver.next()) {
      seen.push(next.type === "error" ? next.code : next.type);
    }
    expect(seen).toContain("rate-limited");
  });

  it("counts nothing sent by a change that rolled back", async () => {
    const room = freshRoom();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const a = await Peer.join(room, { name: "Ann" });
    const b = await Peer.join(room, { name: "Bob" });
    await a.drain();
    const before = await receipt(room, a.welcome.id);
    // b's answer is sent to a, then marking b ready fails: the change rolls back, and a is sent nothing.
    await failNext(room, "INSERT OR IGNORE INTO readiness");
    b.send({ type: "answer", to: a.welcome.id, sdp: "v=0" });
    expect(await b.next("error")).toMatchObject({ code: "internal" });
    await a.expectNothing();
    const barrier = utf8Length(JSON.stringify({ type: "error", code: "unknown-peer", message: "", ref: "done" }));
    const after = await receipt(room, a.welcome.id);
    // Only the barrier's own answer (its message text aside) was sent since.
    expect(after.sent - before.sent).toBeLessThan(barrier + 64);
  });

  it("refuses an ack that answers no request, and counts nothing for it", async () => {
    const room = freshRoom();
    const a = await Peer.join(room);
    a.send({ type: "ack", nonce: "guessed" });
    expect(await a.next("error")).toMatchObject({ code: "bad-message", ref: "ack" });
    a.send({ type: "ack" });
    expect(await a.next("error")).toMatchObject({ code: "bad-message", message: expect.stringContaining("nonce") });
  });
});
