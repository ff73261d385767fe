/**
 * The signaling socket answers the room's read-receipt requests at once, and
 * after a close for not reading (4009) resumes as after any blip. The
 * WebSocket is a stand-in: the room's side is tested in workerd
 * (test/workerd/receipts.test.ts), this is the client's half.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Signaling } from "../../src/client/signaling";
import { CloseCode } from "../../src/protocol";

class FakeSocket {
  static readonly OPEN = 1;
  static opened: FakeSocket[] = [];
  readyState = FakeSocket.OPEN;
  readonly sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.opened.push(this);
  }

  send(frame: string): void {
    this.sent.push(frame);
  }

  close(): void {}

  /** The room says something. */
  say(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

const welcome = (resume: string) => ({
  type: "welcome",
  id: "me",
  resume,
  resumed: false,
  peers: [],
  iceServers: [],
  maxPeers: 8,
});

function connect() {
  const frames: unknown[] = [];
  const errors: string[] = [];
  const signaling = new Signaling((resume) => `wss://room.test/ws${resume ? `?resume=${resume}` : ""}`, {
    welcome: () => {},
    message: (message) => frames.push(message),
    state: () => {},
    error: (code) => errors.push(code),
  });
  const socket = FakeSocket.opened.at(-1);
  if (!socket) throw new Error("no socket opened");
  socket.onopen?.();
  socket.say(welcome("token-1"));
  return { signaling, socket, frames, errors };
}

describe("read receipts", () => {
  beforeEach(() => {
    FakeSocket.opened = [];
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeSocket);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("answers an ack-request with its nonce at once, and tells the owner nothing", () => {
    const { socket, frames, errors } = connect();
    socket.say({ type: "ack-request", nonce: "n0nce" });
    expect(socket.sent).toEqual([JSON.stringify({ type: "ack", nonce: "n0nce" })]);
    expect(frames).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("resumes with its token after a close for not reading", () => {
    const { signaling, socket } = connect();
    socket.onclose?.({ code: CloseCode.notReading });
    expect(signaling.state).toBe("reconnecting");
    vi.runOnlyPendingTimers();
    expect(FakeSocket.opened.at(-1)?.url).toBe("wss://room.test/ws?resume=token-1");
  });
});
