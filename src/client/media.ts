/**
 * Calls: the audio and video one link carries, both ways.
 *
 * Renegotiation that adds media of different kinds from both sides at once
 * can deadlock Chromium ("RTP extension ID reassignment"), so no call ever
 * renegotiates after its start: each connection gets a fixed set of media
 * **slots** (two audio and two video transceivers, `sendrecv`), added once, by
 * the link's initiator alone, in one offer. The other side asks for them with
 * `want-media` when it has something to send first, and opens them both ways
 * while it answers that offer (`offerApplied`). From then on publishing,
 * removing, switching a camera and muting are `replaceTrack`, `enabled` and
 * `setParameters`, none of which negotiates; only ICE restarts still do.
 *
 * Which slot carries which stream, with what label, and whether a track is
 * muted, the sender says on the chat channel as its whole state
 * (`{"type":"media","streams":[…]}`), whenever it changes and the connection
 * is stable (then both sides know every slot's `mid`). The receiver hands the
 * application clones of its receivers' tracks, grouped into one MediaStream
 * per remote stream, so it can end them when the stream is removed while the
 * slot lives on for the next one.
 *
 * A video sender's bitrate is capped by the room's policy (see `videoCaps`).
 */
import type { MediaFrame } from "../protocol";

/** A stream this peer publishes to every link. */
export interface Publication {
  readonly id: string;
  readonly label: string;
  readonly stream: MediaStream;
  /** The tracks it sends, in slot order; `replaceTrack` swaps one in place. */
  tracks: MediaStreamTrack[];
  /** Aborted when the stream is removed: its tracks' listeners go with it. */
  readonly ended: AbortController;
}

export type Kind = "audio" | "video";
/** Slots per kind on every connection. */
export const SLOTS: Record<Kind, number> = { audio: 2, video: 2 };

/** What a video sender may use: bits per second, and how much to scale camera resolution down. */
export interface VideoCaps {
  maxBitrate: number;
  scaleResolutionDownBy: number;
}

/** The most one connection's video gets, however few the peers: more rarely looks better, and costs. */
const MAX_BITRATE_PER_LINK = 1_500_000;
/** From this many people in a call (us included), camera video is sent at half resolution. */
const SCALE_DOWN_FROM = 4;

/**
 * A mesh sends every stream once per peer, so the uplink budget is shared:
 * each connection's video gets the budget divided by the peers it goes to
 * (at most 1.5 Mbps), and from 4 people on cameras send half resolution.
 * Screens (contentHint "detail" or "text") keep their resolution: text must
 * stay readable, so they spend the bitrate on detail and drop frames instead.
 */
export function videoCaps(uplink: number, peers: number): VideoCaps {
  const n = Math.max(1, peers);
  return {
    maxBitrate: Math.min(MAX_BITRATE_PER_LINK, Math.floor(uplink / n)),
    scaleResolutionDownBy: n + 1 >= SCALE_DOWN_FROM ? 2 : 1,
  };
}

export interface MediaEvents {
  track(track: MediaStreamTrack, stream: MediaStream, label: string, muted: boolean): void;
  muted(track: MediaStreamTrack, muted: boolean): void;
  removed(stream: MediaStream): void;
}

/** A remote stream as given to the application. */
interface Remote {
  readonly stream: MediaStream;
  /** Our clone of each slot's receiver track, by mid, and whether the sender muted it. */
  readonly tracks: Map<string, { track: MediaStreamTrack; muted: boolean }>;
}

type Announced = MediaFrame["streams"];

export class MediaLink {
  /** What each slot sends: ours to decide, as `sender.track` changes only once a replaceTrack settles. */
  readonly #sending = new Map<RTCRtpTransceiver, MediaStreamTrack | null>();
  readonly #remote = new Map<string, Remote>();
  /** The peer's last announcement, applied as far as our slots allow. */
  #theirs: Announced = [];
  /** Our last announcement that went out. */
  #said = "";
  #asked = false;
  #peerWants = false;
  /** The link failed or is gone: nothing more is sent or shown. */
  #closed = false;

  constructor(
    private readonly pc: RTCPeerConnection,
    private readonly initiator: boolean,
    /** Sends a control frame on the chat channel; false when it is not open. */
    private readonly say: (frame: string) => boolean,
    private readonly published: () => readonly Publication[],
    private readonly caps: () => VideoCaps,
    private readonly on: MediaEvents,
  ) {
    pc.addEventListener("signalingstatechange", () => this.sync());
  }

  /** Brings slots, senders, caps and announcements in line with what is published; safe to call any time. */
  sync(): void {
    if (this.#closed || this.pc.signalingState === "closed") return;
    const slots = this.#slots();
    if (slots.length === 0) {
      this.#requestSlots();
      return;
    }
    // Mids are known on both sides only once the offer that made the slots is answered.
    if (this.pc.signalingState !== "stable" || slots.some((slot) => slot.mid === null)) return;
    this.#fill(slots);
    this.#announce();
    this.#applyTheirs();
  }

  /** The peer's control frame (`media` or `want-media`). */
  receive(frame: MediaFrame | { type: "want-media" }): void {
    if (frame.type === "want-media") this.#peerWants = true;
    else this.#theirs = frame.streams;
    this.sync();
  }

  /** The answering side: slots the offer brought are opened both ways before the answer is made. */
  offerApplied(): void {
    for (const slot of this.#slots()) if (slot.direction === "recvonly") slot.direction = "sendrecv";
  }

  /** A camera or microphone switch: the slot sending `old` sends `next` from now on. */
  replace(old: MediaStreamTrack, next: MediaStreamTrack): void {
    for (const [slot, track] of this.#sending) {
      if (track !== old) continue;
      this.#send(slot, next);
    }
  }

  /** The connection failed or is gone: every remote stream ends. */
  close(): void {
    this.#closed = true;
    for (const id of [...this.#remote.keys()]) this.#end(id);
  }

  /** Every transceiver is a slot: this library adds no other. */
  #slots(): RTCRtpTransceiver[] {
    return this.pc.getTransceivers();
  }

  /** Only the initiator adds slots, once and all in one offer; the other side asks. */
  #requestSlots(): void {
    const wanted = this.published().length > 0;
    if (!this.initiator) {
      if (wanted && !this.#asked) this.#asked = this.say(JSON.stringify({ type: "want-media" }));
      return;
    }
    if (!wanted && !this.#peerWants) return;
    for (const kind of ["audio", "video"] as const) {
      for (let i = 0; i < SLOTS[kind]; i++) this.pc.addTransceiver(kind, { direction: "sendrecv" });
    }
  }

  /** Every published track in a slot of its kind (a track keeps its slot while published), every video under the caps. */
  #fill(slots: RTCRtpTransceiver[]): void {
    const tracks = new Set(this.published().flatMap((publication) => publication.tracks));
    const placed = new Set<MediaStreamTrack>();
    const free: RTCRtpTransceiver[] = [];
    for (const slot of slots) {
      const track = this.#sending.get(slot) ?? null;
      if (track && tracks.has(track)) placed.add(track);
      else free.push(slot);
    }
    for (const track of tracks) {
      if (placed.has(track)) continue;
      const index = free.findIndex((slot) => slot.receiver.track.kind === track.kind);
      if (index < 0) continue; // no slot of its kind is free: addStream keeps this from happening
      const [slot] = free.splice(index, 1);
      if (slot) this.#send(slot, track);
    }
    for (const slot of free) if (this.#sending.get(slot)) this.#send(slot, null);
    const caps = this.caps();
    for (const [slot, track] of this.#sending) if (track?.kind === "video") capVideo(slot.sender, track, caps);
  }

  #send(slot: RTCRtpTransceiver, track: MediaStreamTrack | null): void {
    this.#sending.set(slot, track);
    slot.sender.replaceTrack(track).catch((error) => {
      console.warn("track not sent", error);
      // Not sent after all: the next sync places it again.
      if (this.#sending.get(slot) === track) this.#sending.delete(slot);
    });
  }

  #announce(): void {
    const mids = new Map<MediaStreamTrack, string>();
    for (const [slot, track] of this.#sending) if (track && slot.mid !== null) mids.set(track, slot.mid);
    const streams = this.published().map(({ id, label, tracks }) => ({
      id,
      label,
      tracks: tracks.flatMap((track) => {
        const mid = mids.get(track);
        return mid === undefined ? [] : [{ mid, muted: !track.enabled }];
      }),
    }));
    const frame = JSON.stringify({ type: "media", streams });
    if (frame !== this.#said && this.say(frame)) this.#said = frame;
  }

  /** The peer's announcement, applied to what the application has: new, changed and removed streams. */
  #applyTheirs(): void {
    const announced = new Set(this.#theirs.map((stream) => stream.id));
    for (const id of [...this.#remote.keys()]) if (!announced.has(id)) this.#end(id);
    for (const stream of this.#theirs) {
      const receivers = stream.tracks.map(({ mid }) => this.#slots().find((slot) => slot.mid === mid)?.receiver);
      // A slot we do not know yet: our side of the negotiation is behind; the next sync tries again.
      if (receivers.some((receiver) => receiver === undefined)) continue;
      const remote = this.#remote.get(stream.id) ?? this.#begin(stream.id);
      const mids = new Set(stream.tracks.map(({ mid }) => mid));
      for (const [mid, { track }] of remote.tracks) {
        if (mids.has(mid)) continue;
        remote.tracks.delete(mid);
        remote.stream.removeTrack(track);
        endTrack(track);
      }
      stream.tracks.forEach(({ mid, muted }, i) => {
        const known = remote.tracks.get(mid);
        const receiver = receivers[i];
        if (known && known.muted !== muted) {
          known.muted = muted;
          this.on.muted(known.track, muted);
        } else if (!known && receiver) {
          const track = receiver.track.clone();
          remote.tracks.set(mid, { track, muted });
          remote.stream.addTrack(track);
          this.on.track(track, remote.stream, stream.label, muted);
        }
      });
    }
  }

  #begin(id: string): Remote {
    const remote: Remote = { stream: new MediaStream(), tracks: new Map() };
    this.#remote.set(id, remote);
    return remote;
  }

  #end(id: string): void {
    const remote = this.#remote.get(id);
    if (!remote) return;
    this.#remote.delete(id);
    for (const { track } of remote.tracks.values()) endTrack(track);
    this.on.removed(remote.stream);
  }
}

/** Ends our clone of a remote track and says so, as a track ended by its source would. */
function endTrack(track: MediaStreamTrack): void {
  track.stop();
  track.dispatchEvent(new Event("ended"));
}

/** Applies the caps to a video sender, unless they are in force already. */
function capVideo(sender: RTCRtpSender, track: MediaStreamTrack, caps: VideoCaps): void {
  const params = sender.getParameters();
  const encoding = params.encodings?.[0];
  // No encodings until the slot is negotiated; the next sync applies them.
  if (!encoding) return;
  const screen = track.contentHint === "detail" || track.contentHint === "text";
  const scale = screen ? 1 : caps.scaleResolutionDownBy;
  if (encoding.maxBitrate === caps.maxBitrate && (encoding.scaleResolutionDownBy ?? 1) === scale) return;
  encoding.maxBitrate = caps.maxBitrate;
  encoding.scaleResolutionDownBy = scale;
  sender.setParameters(params).catch((error) => console.warn("video caps not applied", error));
}
