/**
 * One remote peer: its RTCPeerConnection, the chat channel, and the
 * negotiation with it over signaling.
 *
 * Negotiation follows the perfect-negotiation pattern, so either side may
 * renegotiate at any time: the newcomer (who made the first offer) is the
 * impolite side and wins a collision; the existing peer is polite and yields.
 * The newcomer also owns recovery: it runs the ICE restarts, and once a
 * connection has failed it makes a new one (a fresh RTCPeerConnection in the
 * same Link: same peer, same codec, same ordered queue), which the other side
 * recognises by its new DTLS fingerprint and answers with a fresh connection
 * of its own. So a peer that is still in the room comes back however long its
 * connection was down (a laptop that slept), and a key mismatch never does.
 *
 * Everything it says to its peer goes out through its codec (plaintext, or
 * sealed with the room key) and everything it hears comes in through it, in
 * order. A peer whose signaling does not open under our codec never gets a
 * connection.
 *
 * States: connecting → connected ⇄ reconnecting → failed, and closed;
 * failed → connecting again when the connection is renewed.
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
  /** A new connection replaced the failed one, not negotiated yet: what rode on the old `pc` goes onto this one. */
  renewed(pc: RTCPeerConnection): void;
}

export interface LinkOptions {
  iceServers: IceServer[];
  /** Relay-only: gather TURN candidates alone, and let no other address leave the page. */
  relay: boolean;
  /** Whether our signaling is connected: a new connection is started only then. */
  online: () => boolean;
  /** How long a connection may be down, restarts and all, before it has failed (tests shorten it). */
  giveUpMs?: number;
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
/**
 * The newcomer's waits before each new connection after a failure; one
 * attempt per entry, then no more until our signaling resumes. An attempt
 * that does not connect within the give-up time fails like any connection.
 */
const RENEW_AFTER_MS = [1_000, 5_000, 15_000];
/** Fingerprints of replaced connections kept to recognise their late frames. */
const RETIRED_KEPT = 8;

export class Link {
  #pc: RTCPeerConnection;
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
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  /** New connections tried since the last one that came up, or since our signaling resumed. */
  #renewals = 0;
  #closed = false;
  /** The servers new connections use: the room's latest (renewed TURN credentials included). */
  #iceServers: IceServer[];
  /** The peer's DTLS fingerprints on connections we replaced: descriptions carrying them are stale. */
  #retired: string[] = [];
  /** The origin (see `origin`) of the peer's last answer we applied: the same answer again is a duplicate. */
  #answerApplied: string | null = null;
  /** Offers from the peer received and not yet taken in turn (see `#staleOffer`). */
  #offersWaiting = 0;

  constructor(
    readonly remoteId: string,
    /** True for the newcomer: it offers first, is impolite, restarts ICE and makes new connections. */
    private readonly initiator: boolean,
    private readonly options: LinkOptions,
    private readonly codec: PairCodec,
    private readonly signal: Signal,
    private readonly on: LinkEvents,
  ) {
    this.#iceServers = options.iceServers;
    this.#pc = this.#connect();
  }

  /** The current connection: a new one after a renewal (see `renewed`). */
  get pc(): RTCPeerConnection {
    return this.#pc;
  }

  /** Failed for good: the peer lacks our key, or every new connection we tried failed too. */
  get givenUp(): boolean {
    return this.#mismatched || (this.initiator && this.#state === "failed" && !this.#mayRenew());
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
    const offer = frame.type === "offer";
    if (offer) this.#offersWaiting += 1;
    this.#enqueue(async () => {
      if (offer) this.#offersWaiting -= 1;
      // Closed (the peer left) while this frame waited: nothing may build a connection for it now.
      if (this.#mismatched || this.#closed) return;
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
      else if (!this.#staleOffer(signal.type)) await this.#applyDescription(signal.type, signal.sdp);
    });
  }

  /**
   * Fresh ICE servers (renewed TURN credentials): new allocations use them.
   * With `move`, a path through our relay, which keeps its allocation under
   * the old credentials until they expire, restarts ICE onto a fresh one; so
   * does a relay-only link that is not up (it may have had no relay before).
   */
  setIceServers(iceServers: IceServer[], move: boolean): void {
    this.#iceServers = iceServers;
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
    // Signaling is back: a failed connection gets a new round of attempts.
    if (this.#state === "failed") {
      this.#renewals = 0;
      this.#scheduleRenewal();
    }
  }

  /**
   * An offer still waiting for its answer (a first negotiation, a
   * renegotiation or an ICE restart, connected or not) goes again, and so
   * does our last answer, even on a connection that is up: the offer of a
   * renegotiation there (media slots, an ICE restart) waits for it, and we
   * cannot tell whether it arrived. A peer that has it drops it. `ready` and
   * our candidates go again only while the connection is not up, as one that
   * is up got them.
   */
  #resendNow(): void {
    const local = this.pc.localDescription;
    if (!local || this.#mismatched) return;
    const signaling = this.pc.signalingState;
    if (signaling === "have-local-offer") {
      this.#sayDescription("offer", local.sdp);
    } else if (signaling !== "stable") {
      return; // an offer of theirs is being answered right now
    } else if (local.type === "answer") {
      this.#sayDescription("answer", local.sdp);
      if (this.#state === "connected") return;
    } else if (this.#state === "connected") {
      return;
    } else {
      this.#say({ type: "ready" });
    }
    for (const candidate of this.#candidates) this.#say({ type: "candidate", candidate });
  }

  close(): void {
    this.#closed = true;
    this.#stopTimers();
    clearTimeout(this.#renewTimer);
    this.#retire();
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
    const pc = this.pc;
    try {
      this.#makingOffer = true;
      this.#candidates = [];
      await pc.setLocalDescription();
      const sdp = pc.localDescription?.sdp;
      // A connection replaced meanwhile offers nothing.
      if (sdp && pc === this.pc) this.#sayDescription("offer", sdp);
    } finally {
      this.#makingOffer = false;
    }
  }

  async #applyDescription(type: "offer" | "answer", sdp: string): Promise<void> {
    const print = fingerprint(sdp);
    // From a connection of theirs that we replaced (late, or re-sent after a resume): it has nothing to answer.
    if (print !== null && this.#retired.includes(print)) return;
    if (type === "offer" && this.#fromNewConnection(print)) this.#renew();
    const pc = this.pc;
    // A duplicate after a resume: one we applied, perhaps with a newer offer of ours out since.
    const id = origin(sdp);
    if (type === "answer" && (pc.signalingState === "stable" || (id !== null && id === this.#answerApplied))) {
      // Said again: the peer resumed. An offer of ours that is out may have died in its half-open socket.
      if (pc.signalingState === "have-local-offer") this.#resendNow();
      return;
    }
    if (type === "offer" && pc.signalingState === "stable" && id !== null && id === origin(pc.remoteDescription?.sdp)) {
      // Re-sent after the peer's resume, so it still waits for our answer: lost, or held back (`#staleOffer`).
      const local = pc.localDescription;
      if (local?.type === "answer") this.#sayDescription("answer", local.sdp);
      for (const candidate of this.#candidates) this.#say({ type: "candidate", candidate });
      return;
    }
    const collision = type === "offer" && (this.#makingOffer || pc.signalingState !== "stable");
    this.#ignoreOffer = this.initiator && collision;
    if (this.#ignoreOffer) return;
    await pc.setRemoteDescription({ type, sdp });
    if (type === "answer") this.#answerApplied = id;
    if (type === "offer") {
      this.on.offerApplied();
      this.#candidates = [];
      await pc.setLocalDescription();
      const answer = pc.localDescription?.sdp;
      if (answer && !this.#staleOffer(type)) this.#sayDescription("answer", answer);
    } else {
      // The room now delivers the candidates it held for us.
      this.#say({ type: "ready" });
    }
  }

  /**
   * An offer with a later one from the peer already waiting behind it is
   * stale, unanswered: one connection never has two offers out at once, so
   * the peer replaced the connection since (the newcomer's attempts, held for
   * us while we were away, arrive together), or re-sent this offer after a
   * resume. An answer to it would reach the peer's newer connection instead.
   */
  #staleOffer(type: "offer" | "answer"): boolean {
    return type === "offer" && this.#offersWaiting > 0;
  }

  /**
   * Their offer comes from a new connection (another DTLS certificate than
   * the one we are connected to): the newcomer gave up on ours and started
   * over. Only the answering side yields to it; the newcomer never takes an
   * offer for a reason to start over.
   */
  #fromNewConnection(print: string | null): boolean {
    if (this.initiator || print === null) return false;
    const current = fingerprint(this.pc.remoteDescription?.sdp);
    return current !== null && current !== print;
  }

  /** A new RTCPeerConnection wired to this link; the newcomer's chat channel is what makes its first offer. */
  #connect(): RTCPeerConnection {
    const pc = new RTCPeerConnection({
      iceServers: this.#iceServers,
      iceTransportPolicy: this.options.relay ? "relay" : "all",
    });
    pc.onnegotiationneeded = () => this.#offer();
    pc.onicecandidate = ({ candidate }) => {
      let init = candidate ? candidate.toJSON() : null;
      if (this.options.relay) {
        if (!isRelay(init)) return;
        init = withoutRelatedAddress(init);
      }
      this.#candidates.push(init);
      this.#say({ type: "candidate", candidate: init });
    };
    pc.oniceconnectionstatechange = () => this.#iceChanged();
    pc.ondatachannel = ({ channel }) => {
      if (channel.label === "chat") this.#adoptChat(channel);
      else this.on.fileChannel(channel);
    };
    if (this.initiator) this.#adoptChat(pc.createDataChannel("chat"));
    return pc;
  }

  /** Closes the current connection without a word: nothing it reports is news about this link any more. */
  #retire(): void {
    const pc = this.pc;
    pc.onnegotiationneeded = pc.onicecandidate = pc.oniceconnectionstatechange = pc.ondatachannel = null;
    if (this.#chat) this.#chat.onopen = this.#chat.onclose = this.#chat.onmessage = null;
    this.#chat?.close();
    this.#chat = null;
    // Its file channels close with it, and their transfers resume over the next connection.
    pc.close();
  }

  /**
   * A fresh connection in place of the current one, negotiated from the
   * start: by the newcomer after a failure, by the other side on the
   * newcomer's new offer. Codec, queue and outbox stay, so every frame is
   * still decoded once and in order, and what follows the offer reaches the
   * new connection.
   */
  #renew(): void {
    if (this.#closed) return;
    const remote = fingerprint(this.pc.remoteDescription?.sdp);
    if (remote !== null) this.#retired = [...this.#retired, remote].slice(-RETIRED_KEPT);
    this.#stopTimers();
    this.#retire();
    this.#candidates = [];
    this.#ignoreOffer = false;
    this.#pc = this.#connect();
    this.on.renewed(this.#pc);
    this.#setState("connecting");
    // A new connection that is not up within the give-up time has failed as well.
    this.#giveUpTimer = setTimeout(() => this.#fail(), this.#giveUpMs);
  }

  /** Whether the newcomer has attempts left at a new connection. */
  #mayRenew(): boolean {
    return this.initiator && !this.#mismatched && !this.#closed && this.#renewals < RENEW_AFTER_MS.length;
  }

  /** The newcomer starts a new connection after a pause, if our signaling is connected then. */
  #scheduleRenewal(): void {
    if (!this.#mayRenew()) return;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(() => {
      this.#renewTimer = undefined;
      // Offline, the offer would wait in vain: the resume's `resend` schedules again.
      if (this.#state !== "failed" || !this.options.online()) return;
      this.#renewals += 1;
      this.#enqueue(async () => {
        if (this.#state === "failed" && !this.#closed) this.#renew();
      });
    }, RENEW_AFTER_MS[this.#renewals]);
  }

  get #giveUpMs(): number {
    return this.options.giveUpMs ?? GIVE_UP_MS;
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
    this.#renewals = 0;
    this.#say({ type: "done" });
    this.#setState("connected");
  }

  #lost(restartAfterMs: number): void {
    if (this.#state === "failed") return;
    if (this.#state === "connected") this.#setState("reconnecting");
    this.#giveUpTimer ??= setTimeout(() => this.#fail(), this.#giveUpMs);
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
    this.#scheduleRenewal();
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

/** The DTLS certificate fingerprint an SDP names (one per connection), or null. */
/**
 * A description's identity, its `o=` line: the session id and version, which
 * a new offer or answer changes. The text said again after a resume is not
 * the one first sent: it is re-read from the browser, with the candidates
 * gathered since (and Chromium's default address in `c=`).
 */
function origin(sdp: string | undefined): string | null {
  return sdp?.match(/^o=([^\r\n]+)/m)?.[1]?.trim() ?? null;
}

function fingerprint(sdp: string | undefined): string | null {
  return sdp?.match(/^a=fingerprint:([^\r\n]+)/m)?.[1]?.trim() ?? null;
}

/** An RTCStats entry of `type`, its other fields still to be checked where read. */
function isStats(report: unknown, type: string): report is Record<string, unknown> {
  return typeof report === "object" && report !== null && "type" in report && report.type === type;
}
