/**
 * A sender's first channel to a receiver: waited for no longer than a resume
 * is, if it never opens (the peer's connection never came back, or the
 * browser lost its opening), and replaced once if it opens while the
 * receiver never hears of it (Firefox can lose a channel's opening on a
 * stream id closed a moment before). Browsers make neither on demand, so the
 * channels are fakes here, on fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FIRST_ACK_MS, RESUME_MS, WINDOW } from "../../src/client/files";
import { digestOf, End, linked, MiB, newInbox, randomFile, receiveOn, saidBy, send } from "./file-pair";

/** An end whose opening has not come yet: it opens when the test says so. */
function unopened(): End {
  const end = new End("file:test");
  end.readyState = "connecting";
  return end;
}

describe("a sender's first channel", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("ends the transfer failed, its channel closed, if it has not opened within RESUME_MS", async () => {
    const channel = unopened();
    const transfer = send(new Uint8Array(1024), channel);
    await vi.advanceTimersByTimeAsync(RESUME_MS - 1);
    expect(transfer.state).toBe("active");
    await vi.advanceTimersByTimeAsync(1);
    expect(transfer.state).toBe("failed");
    await expect(transfer.done).rejects.toThrow("the connection closed during the transfer");
    expect(channel.readyState).toBe("closed");
    expect(channel.said).toEqual([]);
  });

  it("goes on as usual over a channel that opens late, within RESUME_MS", async () => {
    const channel = unopened();
    const transfer = send(new Uint8Array(1024), channel);
    await vi.advanceTimersByTimeAsync(RESUME_MS - 1);
    channel.open();
    // Past the 30 s the opening had; short of the receiver's first word's 10 s, which comes after the header.
    await vi.advanceTimersByTimeAsync(FIRST_ACK_MS - 1);
    expect(transfer.state).toBe("active"); // waiting for the receiver's word, as any transfer does
    expect(JSON.parse(channel.said[0] ?? "null")).toMatchObject({ type: "file-header", size: 1024, acks: true });
  });
});

/**
 * Runs the sender's wait for the receiver's first word out, once the sender has sent `end` a window's worth of
 * blocks and waits: it then has that timer, and no other. The wait is polled on real time (`vi.waitUntil`): no
 * event says that a timer was set.
 */
async function outwait(end: End): Promise<void> {
  await vi.waitUntil(() => end.bytesSent >= WINDOW * MiB && vi.getTimerCount() > 0, { timeout: 30_000, interval: 5 });
  await vi.advanceTimersByTimeAsync(FIRST_ACK_MS);
}

/** An end whose frames reach nobody: a channel open on the sender's side that the receiver never heard of. */
function lost(): End {
  return new End("file:test");
}

/** An end to a receiver from before acks: it keeps what it is sent, never acks, and confirms any `file-end`. */
function beforeAcks(): { end: End; bytes: () => number } {
  const { sender, receiver } = linked();
  let bytes = 0;
  receiver.onmessage = ({ data }) => {
    if (data instanceof ArrayBuffer) bytes += data.byteLength;
    else if (JSON.parse(String(data)).type === "file-end") receiver.send(JSON.stringify({ type: "file-received" }));
  };
  return { end: sender, bytes: () => bytes };
}

// A few MiB through real reads and hashes, on a machine CI may keep busy: seconds, not milliseconds.
describe("a sender's first channel that the receiver never hears of", { timeout: 30_000 }, () => {
  beforeEach(() => {
    // setImmediate stays real: the fake channels deliver on it.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("is replaced by a new channel, with the header again, once the receiver stays silent", async () => {
    const bytes = randomFile(WINDOW * MiB + 3);
    const first = lost();
    const again = linked();
    const { arrived } = receiveOn(again.receiver);
    const transfer = send(bytes, first, async () => again.sender);
    await outwait(first);
    await transfer.done;
    expect(first.readyState).toBe("closed");
    expect(saidBy(first, "file-header")).toHaveLength(1);
    expect(saidBy(again.sender, "file-header")).toHaveLength(1);
    expect(new Uint8Array(await (await arrived).arrayBuffer())).toEqual(bytes);
  });

  it.each([
    ["it was waiting to resume", true],
    ["whose channel it has not yet seen close", false],
  ])("starts over on a receiver whose answer never came back, which drops the transfer %s", async (_, closeArrives) => {
    const bytes = randomFile(WINDOW * MiB + 3);
    const inbox = newInbox();
    const first = linked();
    first.receiver.hold(); // its answers never reach the sender
    first.sender.closesOther = closeArrives;
    const before = receiveOn(first.receiver, inbox);
    const again = linked();
    const after = receiveOn(again.receiver, inbox);
    const transfer = send(bytes, first.sender, async () => again.sender);
    await outwait(first.sender);
    await transfer.done;
    expect((await before.incoming).state).toBe("failed");
    expect(new Uint8Array(await (await after.arrived).arrayBuffer())).toEqual(bytes);
    expect(inbox.transfers.size).toBe(0);
  });

  it("takes up the check of a first ack that comes after it stopped waiting, while the file is still sent", async () => {
    const bytes = randomFile((WINDOW + 2) * MiB + 3);
    const first = lost();
    const again = linked();
    again.receiver.hold(); // its first ack comes only once the sender has stopped waiting for it
    const { arrived } = receiveOn(again.receiver);
    const transfer = send(bytes, first, async () => again.sender);
    await outwait(first);
    await vi.waitUntil(() => again.sender.bytesSent >= WINDOW * MiB && vi.getTimerCount() > 0, {
      timeout: 30_000,
      interval: 5,
    });
    again.sender.bufferedAmount = Number.MAX_SAFE_INTEGER; // a full buffer holds the sender once it goes on
    await vi.advanceTimersByTimeAsync(FIRST_ACK_MS);
    again.receiver.release();
    await new Promise((resolve) => setImmediate(resolve)); // after the frames the release queued
    again.sender.bufferedAmount = 0;
    again.sender.dispatchEvent(new Event("bufferedamountlow"));
    await transfer.done;
    expect(saidBy(again.receiver, "file-ack")[0]).toEqual({ type: "file-ack", blocks: 0, check: "murmur3" });
    expect(new Uint8Array(await (await arrived).arrayBuffer())).toEqual(bytes);
  });

  it("ends failed, its channel closed, when the new channel is not heard of either", async () => {
    const bytes = randomFile(WINDOW * MiB + 3);
    const first = lost();
    const again = lost();
    const transfer = send(bytes, first, async () => again);
    await outwait(first);
    await outwait(again);
    // Sent to unpaced, every byte, and then the verdict waited for.
    await vi.waitUntil(() => again.bytesSent === bytes.length && vi.getTimerCount() > 0, {
      timeout: 30_000,
      interval: 5,
    });
    await vi.advanceTimersByTimeAsync(RESUME_MS);
    expect(transfer.state).toBe("failed");
    expect(again.readyState).toBe("closed");
  });

  it("still reaches a receiver from before acks, unpaced, on the new channel, checked with SHA-256", async () => {
    const bytes = randomFile(WINDOW * MiB + 3);
    const first = beforeAcks();
    const again = beforeAcks();
    const transfer = send(bytes, first.end, async () => again.end);
    await outwait(first.end);
    await outwait(again.end);
    await transfer.done;
    expect(first.end.readyState).toBe("closed");
    expect(again.bytes()).toBe(bytes.length);
    expect(saidBy(again.end, "file-end")).toEqual([{ type: "file-end", sha256: await digestOf(bytes, "sha256") }]);
  });
});
