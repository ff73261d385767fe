/**
 * One remote peer: its RTCPeerConnection, the chat channel, and the
 * negotiation with it over signaling.
 *
 * Negotiation follows the perfect-negotiation pattern, so either side may
 * renegotiate at any time: the newcomer (who made the first offer) is the
 * impolite side and wins a collision; the existing peer is polite and yields.
 * The newcomer also owns recovery: it runs the ICE restarts.
 *
 * Everything it says to its peer goes out through its codec (plaintext, or
 * sealed with the room key) and everything it hears comes in through it, in
 * order. A peer whose signaling does not open under our codec never gets a
 * connection.
 *
 * States: connecting → connected ⇄ reconnecting → failed, and closed.
 */
import type { ClientMessage } from "../inbound";
import type { IceServer, PeerFrame } from "../protocol";
import { KeyMismatch, type PairCodec, type PeerSignal } from "./codec";
import { isRelay, scrubSdp, withoutRelatedAddress } from "./ice";

export type LinkState = "connecting" | "connected" | "reconnecting" | "failed";

export interface LinkEvents {
  state(state: LinkState): void;
  /** A text frame on the chat channel. */
  chat(text: string): void;
  /** The remote side opened a channel for a file. */
  fileChannel(channel: RTCDataChannel): void;
  /** The peer does not share our key (its first frames did not open, or it said ours did not): no connection. */
  mismatch(): void;
  /** A frame from a peer that does share our key did not open: forged or replayed, and dropped. */
  rejected(): void;
  /** Their offer is applied and our answer not made yet: the moment to open media slots both ways. */
  offerApplied(): void;
}

export interface LinkOptions {
  iceServers: IceServer[];
  /** Relay-only: gather TURN candidates alone, and let no other address leave the page. */
  relay: boolean;
}

type Signal = (message: ClientMessage) => void;
/** What a link says: payloads for its peer (through the codec), and notes for the server. */
type Note = { type: "ready" | "done" | "key-mismatch" };
type Outgoing = PeerSignal | Note;
/** A note has no payload: neither a description nor a candidate. */
const isNote = (message: Outgoing): message is Note => !("sdp" in message || "candidate" in message);

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
  /** Outgoing frames are encoded one at a time, in order. */
  #outbox: Promise<void> = Promise.resolve();
  /** Some frame from the peer opened under our codec: the peer holds our key. */
  #authenticated = false;
  #mismatched = false;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #giveUpTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly remoteId: string,
    /** True for the newcomer: it offers first, is impolite, and restarts ICE. */
    private readonly initiator: boolean,
    private readonly options: LinkOptions,
    private readonly codec: PairCodec,
    private readonly signal: Signal,
    private readonly on: LinkEvents,
  ) {
    this.pc = new RTCPeerConnection({
      iceServers: options.iceServers,
      iceTransportPolicy: options.relay ? "relay" : "all",
    });
    this.pc.onnegotiationneeded = () => this.#offer();
    this.pc.onicecandidate = ({ candidate }) => {
      let init = candidate ? candidate.toJSON() : null;
      if (options.relay) {
        if (!isRelay(init)) return;
        init = withoutRelatedAddress(init);
      }
      this.#candidates.push(init);
      this.#say({ type: "candidate", candidate: init });
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

  /** A frame the peer sent us, decoded and applied in order with everything else from signaling. */
  receive(frame: PeerFrame): void {
    this.#enqueue(async () => {
      if (this.#mismatched) return;
      if (frame.type === "key-mismatch") {
        // Only a peer that never proved it holds our key can be one that lacks it.
        if (!this.#authenticated) this.#mismatch(false);
        return;
      }
      let signal: PeerSignal;
      try {
        signal = await this.codec.decode(frame);
      } catch (error) {
        if (!(error instanceof KeyMismatch)) throw error;
        // Before any frame opened, the peer lacks our key; after, this frame was forged or replayed.
        if (this.#authenticated) this.on.rejected();
        else this.#mismatch(true);
        return;
      }
      this.#authenticated = true;
      if (signal.type === "candidate") await this.#applyCandidate(signal.candidate);
      else await this.#applyDescription(signal.type, signal.sdp);
    });
  }

  /**
   * Fresh ICE servers (renewed TURN credentials): new allocations use them.
   * With `move`, a path through our relay, which keeps its allocation under
   * the old credentials until they expire, restarts ICE onto a fresh one; so
   * does a relay-only link that is not up (it may have had no relay before).
   */
  setIceServers(iceServers: IceServer[], move: boolean): void {
    if (this.pc.signalingState === "closed") return;
    this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    if (!move) return;
    this.#enqueue(async () => {
      const stalled = this.options.relay && this.#state !== "connected";
      if (stalled || (await this.#relayed())) this.pc.restartIce();
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
    if (!local || this.#mismatched) return;
    if (this.pc.signalingState === "have-local-offer") {
      this.#sayDescription("offer", local.sdp);
    } else if (this.#state === "connected" || this.pc.signalingState !== "stable") {
      return; // nothing was lost, or an offer of theirs is being answered right now
    } else if (local.type === "answer") {
      this.#sayDescription("answer", local.sdp);
    } else {
      this.#say({ type: "ready" });
    }
    for (const candidate of this.#candidates) this.#say({ type: "candidate", candidate });
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

  /** Hands a frame to the codec, then to signaling, in the order said. */
  #say(message: Outgoing): void {
    this.#outbox = this.#outbox
      .then(async () => {
        this.signal(isNote(message) ? { type: message.type, to: this.remoteId } : await this.codec.encode(message));
      })
      .catch((error) => console.warn("signaling frame not sent", error));
  }

  #sayDescription(type: "offer" | "answer", sdp: string): void {
    this.#say({ type, sdp: this.options.relay ? scrubSdp(sdp) : sdp });
  }

  async #applyCandidate(candidate: RTCIceCandidateInit | null): Promise<void> {
    try {
      await this.pc.addIceCandidate(candidate ?? undefined);
    } catch (error) {
      // Candidates for an offer we ignored, or duplicates after a resume, are expected.
      if (!this.#ignoreOffer && this.pc.signalingState !== "closed") console.debug("candidate not applied", error);
    }
  }

  /** Our signaling and theirs do not share a key: this link never connects. */
  #mismatch(tell: boolean): void {
    if (this.#mismatched) return;
    this.#mismatched = true;
    // Unsealed on purpose: a peer without our key could read nothing else.
    if (tell) this.#say({ type: "key-mismatch" });
    this.#stopTimers();
    this.pc.close();
    this.#setState("failed");
    this.on.mismatch();
  }

  /** Whether the connection's selected path runs through our TURN relay. */
  async #relayed(): Promise<boolean> {
    const stats = await this.pc.getStats();
    const reports = [...stats.values()] as unknown[];
    // Chromium names the selected pair on the transport; Firefox marks the pair itself.
    const transport = reports.find((report) => isStats(report, "transport"));
    const pair = isStats(transport, "transport")
      ? (stats.get(String(transport.selectedCandidatePairId)) as unknown)
      : reports.find((report) => isStats(report, "candidate-pair") && report.selected === true);
    if (!isStats(pair, "candidate-pair")) return false;
    const local = stats.get(String(pair.localCandidateId)) as unknown;
    return isStats(local, "local-candidate") && local.candidateType === "relay";
  }
  async #offer(): Promise<void> {
    try {
      this.#makingOffer = true;
      this.#candidates = [];
      await this.pc.setLocalDescription();
      const sdp = this.pc.localDescription?.sdp;
      if (sdp) this.#sayDescription("offer", sdp);
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
      this.on.offerApplied();
      this.#candidates = [];
      await pc.setLocalDescription();
      const answer = pc.localDescription?.sdp;
      if (answer) this.#sayDescription("answer", answer);
    } else {
      // The room now delivers the candidates it held for us.
      this.#say({ type: "ready" });
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
    this.#say({ type: "done" });
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

/** An RTCStats entry of `type`, its other fields still to be checked where read. */
function isStats(report: unknown, type: string): report is Record<string, unknown> {
  return typeof report === "object" && report !== null && "type" in report && report.type === type;
}
