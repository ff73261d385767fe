/**
 * One remote peer: its RTCPeerConnection, the chat channel, and the
 * negotiation with it over signaling.
 *
 * Negotiation follows the perfect-negotiation pattern, so either side may
 * renegotiate at any time: the newcomer (who made the first offer) is the
 * impolite side and wins a collision; the existing peer is polite and yields.
 * The newcomer also owns recovery: it runs the ICE restarts.
 *
 * States: connecting → connected ⇄ reconnecting → failed, and closed.
 */
import type { ClientMessage, IceServer } from "../protocol";

export type LinkState = "connecting" | "connected" | "reconnecting" | "failed";

export interface LinkEvents {
  state(state: LinkState): void;
  /** A text frame on the chat channel. */
  chat(text: string): void;
  /** The remote side opened a channel for a file. */
  fileChannel(channel: RTCDataChannel): void;
}

type Signal = (message: ClientMessage) => void;

/** How long ICE may stay `disconnected` before the newcomer restarts it. */
const DISCONNECTED_GRACE_MS = 2_000;
/** Between ICE restarts while the connection stays down. */
const RESTART_EVERY_MS = 5_000;
/** A connection down this long, restarts and all, has failed. */
const GIVE_UP_MS = 30_000;

export class Link {
  readonly pc: RTCPeerConnection;
  #state: LinkState = "connecting";
  #chat: RTCDataChannel | null = null;
  #makingOffer = false;
  #ignoreOffer = false;
  /** Our candidates since our last local description, re-sent after a signaling resume. */
  #candidates: (RTCIceCandidateInit | null)[] = [];
  /** Signaling frames are handled one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #giveUpTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly remoteId: string,
    /** True for the newcomer: it offers first, is impolite, and restarts ICE. */
    private readonly initiator: boolean,
    iceServers: IceServer[],
    private readonly signal: Signal,
    private readonly on: LinkEvents,
  ) {
    this.pc = new RTCPeerConnection({ iceServers });
    this.pc.onnegotiationneeded = () => this.#offer();
    this.pc.onicecandidate = ({ candidate }) => {
      const init = candidate ? candidate.toJSON() : null;
      this.#candidates.push(init);
      this.signal({ type: "candidate", to: remoteId, candidate: init });
    };
    this.pc.oniceconnectionstatechange = () => this.#iceChanged();
    this.pc.ondatachannel = ({ channel }) => {
      if (channel.label === "chat") this.#adoptChat(channel);
      else this.on.fileChannel(channel);
    };
    // The newcomer's chat channel is what makes the first offer.
    if (initiator) this.#adoptChat(this.pc.createDataChannel("chat"));
  }

  get state(): LinkState {
    return this.#state;
  }

  /** Sends on the chat channel; false when it is not open. */
  sendChat(text: string): boolean {
    if (this.#chat?.readyState !== "open") return false;
    this.#chat.send(text);
    return true;
  }

  /** A remote offer or answer, applied in order with everything else from signaling. */
  description(type: "offer" | "answer", sdp: string): void {
    this.#enqueue(() => this.#applyDescription(type, sdp));
  }

  candidate(candidate: RTCIceCandidateInit | null): void {
    this.#enqueue(async () => {
      try {
        await this.pc.addIceCandidate(candidate ?? undefined);
      } catch (error) {
        // Candidates for an offer we ignored, or duplicates after a resume, are expected.
        if (!this.#ignoreOffer && this.pc.signalingState !== "closed") console.debug("candidate not applied", error);
      }
    });
  }

  /**
   * After a signaling resume: frames in flight when the socket dropped are
   * lost, so re-send what the unfinished negotiation needs, in turn with
   * everything else from signaling. The other side tolerates duplicates.
   */
  resend(): void {
    this.#enqueue(async () => this.#resendNow());
  }

  /**
   * An offer still waiting for its answer (a first negotiation, a
   * renegotiation or an ICE restart, connected or not) goes again; so does the
   * last answer or `ready` while the connection is not up.
   */
  #resendNow(): void {
    const local = this.pc.localDescription;
    if (!local) return;
    if (this.pc.signalingState === "have-local-offer") {
      this.signal({ type: "offer", to: this.remoteId, sdp: local.sdp });
    } else if (this.#state === "connected" || this.pc.signalingState !== "stable") {
      return; // nothing was lost, or an offer of theirs is being answered right now
    } else if (local.type === "answer") {
      this.signal({ type: "answer", to: this.remoteId, sdp: local.sdp });
    } else {
      this.signal({ type: "ready", to: this.remoteId });
    }
    for (const candidate of this.#candidates) this.signal({ type: "candidate", to: this.remoteId, candidate });
  }

  close(): void {
    this.#stopTimers();
    if (this.#chat) this.#chat.onclose = null; // we are closing it: no state to report
    this.#chat?.close();
    this.pc.close();
  }

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((error) => console.warn("negotiation step failed", error));
  }

  async #offer(): Promise<void> {
    try {
      this.#makingOffer = true;
      this.#candidates = [];
      await this.pc.setLocalDescription();
      const sdp = this.pc.localDescription?.sdp;
      if (sdp) this.signal({ type: "offer", to: this.remoteId, sdp });
    } finally {
      this.#makingOffer = false;
    }
  }

  async #applyDescription(type: "offer" | "answer", sdp: string): Promise<void> {
    const pc = this.pc;
    if (type === "answer" && pc.signalingState === "stable") return; // a duplicate after a resume
    if (type === "offer" && pc.signalingState === "stable" && pc.remoteDescription?.sdp === sdp) {
      // A duplicate offer after a resume: our answer was lost, not the negotiation.
      this.#resendNow();
      return;
    }
    const collision = type === "offer" && (this.#makingOffer || pc.signalingState !== "stable");
    this.#ignoreOffer = this.initiator && collision;
    if (this.#ignoreOffer) return;
    await pc.setRemoteDescription({ type, sdp });
    if (type === "offer") {
      this.#candidates = [];
      await pc.setLocalDescription();
      const answer = pc.localDescription?.sdp;
      if (answer) this.signal({ type: "answer", to: this.remoteId, sdp: answer });
    } else {
      // The room now delivers the candidates it held for us.
      this.signal({ type: "ready", to: this.remoteId });
    }
  }

  #adoptChat(channel: RTCDataChannel): void {
    this.#chat = channel;
    channel.onopen = () => this.#iceChanged();
    // The other side closed its connection (a closed tab): no restart can bring this channel back.
    channel.onclose = () => this.#fail();
    channel.onmessage = ({ data }) => {
      if (typeof data === "string") this.on.chat(data);
    };
  }

  #iceChanged(): void {
    const ice = this.pc.iceConnectionState;
    if ((ice === "connected" || ice === "completed") && this.#chat?.readyState === "open") {
      this.#recovered();
    } else if (ice === "disconnected" || ice === "failed") {
      this.#lost(ice === "failed" ? 0 : DISCONNECTED_GRACE_MS);
    }
  }

  /** Up (again): ICE connects and the chat channel is open. Said once per connection, not per ICE event. */
  #recovered(): void {
    if (this.#state === "connected") return;
    this.#stopTimers();
    this.signal({ type: "done", to: this.remoteId });
    this.#setState("connected");
  }

  #lost(restartAfterMs: number): void {
    if (this.#state === "failed") return;
    if (this.#state === "connected") this.#setState("reconnecting");
    this.#giveUpTimer ??= setTimeout(() => this.#fail(), GIVE_UP_MS);
    if (!this.initiator || this.#restartTimer !== undefined) return;
    const restart = () => {
      this.pc.restartIce();
      this.#restartTimer = setTimeout(restart, RESTART_EVERY_MS);
    };
    this.#restartTimer = setTimeout(restart, restartAfterMs);
  }

  #fail(): void {
    this.#stopTimers();
    this.#setState("failed");
  }

  #stopTimers(): void {
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#giveUpTimer);
    this.#restartTimer = undefined;
    this.#giveUpTimer = undefined;
  }

  #setState(state: LinkState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.on.state(state);
  }
}
