/**
 * A sender's first channel to a receiver is waited for no longer than a
 * resume is: a channel that never opens (the peer's connection never came
 * back, or the browser lost its opening) ends the transfer failed instead of
 * leaving it active for ever. Browsers cannot make such a channel on demand,
 * so it is a fake here, on fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RESUME_MS, type Route, sendFile } from "../../src/client/files";

/** The parts of an RTCDataChannel a sender touches: it opens only when told to, and says what was sent. */
class FakeChannel extends EventTarget {
  readyState: RTCDataChannelState = "connecting";
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  readonly label = "file:test";
  readonly sent: string[] = [];
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: (() => void) | null = null;

  open(): void {
    this.readyState = "open";
    this.dispatchEvent(new Event("open"));
  }

  send(data: string | ArrayBufferView): void {
    if (typeof data === "string") this.sent.push(data);
  }

  close(): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    this.dispatchEvent(new Event("close"));
    this.onclose?.();
  }
}

function routeOver(channel: FakeChannel): Route {
  return {
    // The fake has every member the sender uses; the rest of RTCDataChannel is never read.
    channel: channel as unknown as RTCDataChannel,
    maxMessageSize: () => 256 * 1024,
    reopen: async () => null,
  };
}

describe("a sender's first channel", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("ends the transfer failed, its channel closed, if it has not opened within RESUME_MS", async () => {
    const channel = new FakeChannel();
    const transfer = sendFile(new Blob([new Uint8Array(1024)]), "t1", [routeOver(channel)]);
    await vi.advanceTimersByTimeAsync(RESUME_MS - 1);
    expect(transfer.state).toBe("active");
    await vi.advanceTimersByTimeAsync(1);
    expect(transfer.state).toBe("failed");
    await expect(transfer.done).rejects.toThrow("the connection closed during the transfer");
    expect(channel.readyState).toBe("closed");
    expect(channel.sent).toEqual([]);
  });

  it("goes on as usual over a channel that opens late, within RESUME_MS", async () => {
    const channel = new FakeChannel();
    const transfer = sendFile(new Blob([new Uint8Array(1024)]), "t2", [routeOver(channel)]);
    await vi.advanceTimersByTimeAsync(RESUME_MS - 1);
    channel.open();
    await vi.advanceTimersByTimeAsync(RESUME_MS);
    expect(transfer.state).toBe("active"); // waiting for the receiver's word, as any transfer does
    expect(JSON.parse(channel.sent[0] ?? "null")).toMatchObject({ type: "file-header", size: 1024, acks: true });
  });
});
