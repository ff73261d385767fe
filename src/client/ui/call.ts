/**
 * The call card: a grid of tiles, one per remote stream (a camera and a
 * screen are separate tiles) plus our own muted preview, and the buttons that
 * publish our camera, microphone and screen through `/mesh.js`.
 *
 * Muting is `room.setMuted`: the track keeps its place and nothing is
 * renegotiated. Remote tiles appear as soon as someone publishes, but stay
 * silent until we join: joining is a click, and a click is what lets the
 * browser play sound and run the AudioContext behind the speaking rings.
 */
import type { MeshRoom, MeshRoomEvents } from "/mesh.js";
import { byId, h, isolated, s } from "./dom";
import { avatarClass, displayName, initial } from "./format";

type DeviceKind = "audio" | "video";

const DEVICE_CONSTRAINTS: Record<DeviceKind, MediaTrackConstraints | true> = {
  // The browser's defaults already cancel echo and noise.
  audio: true,
  // A mesh sends the camera once per peer: a modest size leaves room for everyone's uplink.
  video: { width: { ideal: 640 }, height: { ideal: 360 }, facingMode: "user" },
};

/** Audio level (RMS, about −34 dBFS) above which someone counts as speaking. */
const SPEAKING_LEVEL = 0.02;
/** The ring stays this long after the last loud moment, so it does not flicker between words. */
const SPEAKING_HOLD_MS = 500;
const SAMPLE_EVERY_MS = 100;

const NO_DEVICES =
  "This page can't use a camera or microphone (it needs a secure https:// address). You can still see and hear the others.";
const NO_SCREEN_SHARING =
  "This browser can't share its screen. Phones and tablets usually can't: share from a computer instead.";
const SCREEN_BLOCKED =
  "Your computer doesn't let this browser record the screen. Allow screen recording for it in the system settings, then try again.";

/** Whose a tile is: a remote peer, or us. */
interface Owner {
  id: string;
  name: string | null;
  self: boolean;
}

/** One stream on screen: its video (which also plays its sound), a cover when there is no picture, and a caption. */
class Tile {
  readonly element: HTMLLIElement;
  readonly video: HTMLVideoElement;
  readonly #micOff: HTMLElement;
  readonly #note: HTMLElement;
  /** Whether the sender muted each track (their `setMuted`); our own tracks say it with `enabled`. */
  readonly #muted = new Map<MediaStreamTrack, boolean>();

  constructor(
    readonly owner: Owner,
    readonly label: string,
    readonly stream: MediaStream,
  ) {
    const screen = label === "screen";
    // Muted from the start: a remote tile is unmuted once we join; our own never (no echo).
    this.video = h("video", { autoplay: true, playsinline: true, muted: true });
    this.video.muted = true;
    this.#micOff = h("span", { class: "tile-mic-off", role: "img", "aria-label": "Microphone off" }, micOffIcon());
    this.#note = h("span", { class: "tile-note" });
    const name = owner.self
      ? h("span", { class: "tile-name" }, screen ? "Your screen" : "You")
      : isolated(displayName(owner.name), { class: "tile-name" });
    this.element = h(
      "li",
      {
        class: `tile ${screen ? "tile-screen" : "tile-camera"}${owner.self ? " tile-self" : ""}`,
        "data-peer-id": owner.self ? null : owner.id,
        "data-label": label,
        "data-remote": !owner.self,
      },
      this.video,
      h(
        "div",
        { class: "tile-cover" },
        h("span", { class: `avatar tile-avatar ${avatarClass(owner.id)}`, "aria-hidden": "true" }, initial(owner.name)),
        this.#note,
      ),
      h(
        "div",
        { class: "tile-caption" },
        this.#micOff,
        name,
        screen && !owner.self && h("span", { class: "tile-tag" }, "Screen"),
        // Bars that move while the person speaks: the ring alone is easy to miss on a busy picture.
        h("span", { class: "tile-speaking", "aria-hidden": "true" }, h("span"), h("span"), h("span")),
      ),
    );
    for (const track of stream.getTracks()) this.add(track, false);
    this.render();
  }

  get screen(): boolean {
    return this.label === "screen";
  }

  get audio(): MediaStreamTrack | undefined {
    return this.stream.getAudioTracks().find(live);
  }

  /** A track of this tile's stream, new or already in it. */
  add(track: MediaStreamTrack, muted: boolean): void {
    const known = this.#muted.has(track);
    this.#muted.set(track, muted);
    if (known) {
      this.render();
      return;
    }
    if (!this.stream.getTracks().includes(track)) this.stream.addTrack(track);
    // Set again, so the element picks up a track that joined its stream after it started playing.
    this.video.srcObject = this.stream;
    this.video.play().catch(() => undefined);
    // Before a remote video's first frame (and while no frames come) it is "muted": show the cover, not black.
    for (const type of ["mute", "unmute", "ended"]) track.addEventListener(type, () => this.render());
    this.render();
  }

  setMuted(track: MediaStreamTrack, muted: boolean): void {
    if (!this.#muted.has(track)) return;
    this.#muted.set(track, muted);
    this.render();
  }

  /** Whether every track has ended: a tile with nothing left to show goes. */
  get ended(): boolean {
    return this.stream.getTracks().every((track) => !live(track));
  }

  render(): void {
    const video = this.stream.getVideoTracks().find(live);
    const showing = video !== undefined && !this.#isMuted(video) && !video.muted;
    this.element.dataset.video = showing ? "on" : "off";
    this.#note.textContent = this.#coverNote(video);
    const audio = this.audio;
    // A screen without sound is normal; a person without a microphone cannot be heard.
    this.#micOff.hidden = this.screen || (audio !== undefined && !this.#isMuted(audio));
  }

  setSpeaking(speaking: boolean): void {
    this.element.classList.toggle("is-speaking", speaking);
  }

  close(): void {
    this.video.srcObject = null;
    this.element.remove();
  }

  #isMuted(track: MediaStreamTrack): boolean {
    return this.owner.self ? !track.enabled : (this.#muted.get(track) ?? false);
  }

  /** What the cover says instead of a picture. */
  #coverNote(video: MediaStreamTrack | undefined): string {
    if (video === undefined) return this.owner.self ? "No camera" : "No video";
    if (this.#isMuted(video)) return "Camera off";
    // Live but without frames: a remote camera before its first frame, or a device the system paused.
    return "Waiting for video…";
  }
}

function live(track: MediaStreamTrack): boolean {
  return track.readyState === "live";
}

function micOffIcon(): SVGSVGElement {
  return s(
    "svg",
    { viewBox: "0 0 24 24", class: "icon", "aria-hidden": "true", focusable: "false" },
    s("path", { d: "M9 6a3 3 0 0 1 6 0v5a3 3 0 0 1-6 0z" }),
    s("path", { d: "M5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21M4 4l16 16" }),
  );
}

interface Analysis {
  source: MediaStreamAudioSourceNode;
  analyser: AnalyserNode;
  samples: Float32Array<ArrayBuffer>;
}

interface Watch {
  track: MediaStreamTrack;
  show: (speaking: boolean) => void;
  analysis: Analysis | null;
  speaking: boolean;
  loudUntil: number;
}

/**
 * Who is speaking, from each tile's audio level: one AudioContext for the
 * page, one analyser per audio track, one timer for all of them, running only
 * while there is something to measure.
 */
class SpeakingMeter {
  #context: AudioContext | null = null;
  readonly #watches = new Map<object, Watch>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Creates (or resumes) the page's AudioContext: call it from a click, or the browser keeps it suspended. */
  start(): void {
    if (typeof AudioContext !== "function") return;
    this.#context ??= new AudioContext();
    this.#context.resume().catch(() => undefined);
    for (const watch of this.#watches.values()) this.#analyse(watch);
    this.#schedule();
  }

  /**
   * Measures `track` for `key` (a tile). Chromium feeds WebAudio from a remote
   * track only while it also plays in a media element: the tile's video does.
   */
  watch(key: object, track: MediaStreamTrack, show: (speaking: boolean) => void): void {
    if (this.#watches.get(key)?.track === track) return;
    this.unwatch(key);
    const watch: Watch = { track, show, analysis: null, speaking: false, loudUntil: 0 };
    this.#watches.set(key, watch);
    this.#analyse(watch);
    this.#schedule();
  }

  unwatch(key: object): void {
    const watch = this.#watches.get(key);
    if (!watch) return;
    watch.analysis?.source.disconnect();
    this.#watches.delete(key);
    if (watch.speaking) watch.show(false);
    this.#schedule();
  }

  #analyse(watch: Watch): void {
    if (!this.#context || watch.analysis || !live(watch.track)) return;
    const source = this.#context.createMediaStreamSource(new MediaStream([watch.track]));
    const analyser = this.#context.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    watch.analysis = { source, analyser, samples: new Float32Array(analyser.fftSize) };
  }

  #schedule(): void {
    const needed = this.#context !== null && this.#watches.size > 0;
    if (needed && this.#timer === undefined) this.#timer = setInterval(() => this.#sample(), SAMPLE_EVERY_MS);
    if (!needed && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #sample(): void {
    const now = performance.now();
    for (const watch of this.#watches.values()) {
      if (!watch.analysis) continue;
      if (level(watch.analysis) > SPEAKING_LEVEL) watch.loudUntil = now + SPEAKING_HOLD_MS;
      const speaking = now < watch.loudUntil;
      if (speaking === watch.speaking) continue;
      watch.speaking = speaking;
      watch.show(speaking);
    }
  }
}

/** The RMS of the analyser's latest samples. */
function level({ analyser, samples }: Analysis): number {
  analyser.getFloatTimeDomainData(samples);
  let sum = 0;
  for (const sample of samples) sum += sample * sample;
  return Math.sqrt(sum / samples.length);
}

/** A stream we publish, and its preview tile. */
interface Published {
  stream: MediaStream;
  tile: Tile;
}

export class Call {
  readonly #card = byId("call", HTMLElement);
  readonly #grid = byId("tiles", HTMLUListElement);
  readonly #count = byId("call-count", HTMLElement);
  readonly #hint = byId("call-hint", HTMLElement);
  readonly #message = byId("call-message", HTMLElement);
  readonly #join = byId("call-join", HTMLButtonElement);
  readonly #joinText = byId("call-join-text", HTMLElement);
  readonly #mic = byId("call-mic", HTMLButtonElement);
  readonly #camera = byId("call-camera", HTMLButtonElement);
  readonly #share = byId("call-screen", HTMLButtonElement);
  readonly #hangUp = byId("call-leave", HTMLButtonElement);
  readonly #remote = new Map<MediaStream, Tile>();
  readonly #meter = new SpeakingMeter();
  #local: Published | null = null;
  #screen: Published | null = null;
  #joined = false;
  #enabled = true;
  /** Waiting for a device prompt: the buttons that would open another wait. */
  #busy = false;

  constructor(
    private readonly room: MeshRoom,
    private readonly selfName: string,
  ) {
    room.addEventListener("track", (event) => this.#onTrack(event.detail));
    room.addEventListener("track-muted", (event) => this.#onTrackMuted(event.detail));
    room.addEventListener("stream-removed", (event) => this.#onStreamRemoved(event.detail));
    room.addEventListener("peer-leave", (event) => this.#removePeer(event.detail.peer.id));
    this.#join.addEventListener("click", () => void this.#joinCall());
    this.#mic.addEventListener("click", () => void this.#toggleDevice("audio"));
    this.#camera.addEventListener("click", () => void this.#toggleDevice("video"));
    this.#share.addEventListener("click", () => void this.#toggleScreen());
    this.#hangUp.addEventListener("click", () => this.#leaveCall());
    this.#render();
  }

  /** Whether calls are possible (we are in the room); turning them off ends ours. */
  setEnabled(enabled: boolean): void {
    if (enabled === this.#enabled) return;
    this.#enabled = enabled;
    if (!enabled && this.#joined) this.#leaveCall();
    this.#render();
  }

  // ---------- Remote streams ----------

  #onTrack({ from, track, streams, label, muted }: MeshRoomEvents["track"]): void {
    const stream = streams[0] ?? new MediaStream([track]);
    let tile = this.#remote.get(stream);
    if (!tile) {
      const owner = { id: from, name: this.room.peers.get(from)?.name ?? null, self: false };
      tile = new Tile(owner, label, stream);
      tile.video.muted = !this.#joined;
      this.#remote.set(stream, tile);
      this.#grid.append(tile.element);
    }
    tile.add(track, muted);
    track.addEventListener("ended", () => this.#dropIfEnded(stream));
    if (track.kind === "audio") this.#watchSpeaking(tile);
    this.#render();
  }

  #onTrackMuted({ from, track, muted }: MeshRoomEvents["track-muted"]): void {
    for (const tile of this.#remote.values()) if (tile.owner.id === from) tile.setMuted(track, muted);
  }

  #onStreamRemoved({ from, stream }: MeshRoomEvents["stream-removed"]): void {
    const tile = this.#remote.get(stream);
    if (tile?.owner.id === from) this.#removeTile(stream, tile);
  }

  #removePeer(id: string): void {
    for (const [stream, tile] of this.#remote) if (tile.owner.id === id) this.#removeTile(stream, tile);
  }

  #dropIfEnded(stream: MediaStream): void {
    const tile = this.#remote.get(stream);
    if (tile?.ended) this.#removeTile(stream, tile);
  }

  #removeTile(stream: MediaStream, tile: Tile): void {
    this.#meter.unwatch(tile);
    tile.close();
    this.#remote.delete(stream);
    this.#render();
  }

  #watchSpeaking(tile: Tile): void {
    const audio = tile.audio;
    if (audio) this.#meter.watch(tile, audio, (speaking) => tile.setSpeaking(speaking));
  }

  // ---------- Joining and leaving ----------

  async #joinCall(): Promise<void> {
    if (this.#joined || this.#busy || !this.#enabled) return;
    // Still inside the click: the one moment a browser lets an AudioContext start.
    this.#meter.start();
    this.#busy = true;
    this.#render();
    const { stream, problem } = await openCamera();
    this.#busy = false;
    if (!this.#enabled) {
      // The room went away while the browser asked: nothing to join any more.
      stopTracks(stream);
      this.#render();
      return;
    }
    this.#joined = true;
    this.#say(problem);
    if (stream) this.#publishCamera(stream);
    for (const tile of this.#remote.values()) {
      tile.video.muted = false;
      tile.video.play().catch(() => undefined);
    }
    this.#render();
    this.#keepFocus(this.#join, this.#mic);
  }

  #leaveCall(): void {
    this.#stopScreen();
    this.#unpublishCamera();
    this.#joined = false;
    for (const tile of this.#remote.values()) tile.video.muted = true;
    this.#say(null);
    this.#render();
    this.#keepFocus(this.#hangUp, this.#join);
  }

  /** A button that hid itself hands the keyboard focus on, rather than dropping it to the page. */
  #keepFocus(from: HTMLElement, to: HTMLElement): void {
    if (document.activeElement === from || document.activeElement === document.body) to.focus();
  }

  #publishCamera(stream: MediaStream): void {
    try {
      this.room.addStream(stream, { label: "camera" });
    } catch (error) {
      stopTracks(stream);
      this.#say(`Your camera and microphone couldn't be shared: ${describeError(error)}.`);
      return;
    }
    const tile = new Tile(this.#self(), "camera", stream);
    this.#local = { stream, tile };
    this.#grid.prepend(tile.element);
    this.#watchSpeaking(tile);
  }

  #unpublishCamera(): void {
    const local = this.#local;
    if (!local) return;
    this.#local = null;
    this.#withdraw(local);
  }

  /** Stops publishing a stream of ours: its tracks stop and its preview tile goes. */
  #withdraw({ stream, tile }: Published): void {
    this.room.removeStream(stream);
    stopTracks(stream);
    this.#meter.unwatch(tile);
    tile.close();
  }

  #self(): Owner {
    return { id: this.room.id ?? "", name: this.selfName, self: true };
  }

  // ---------- Microphone and camera ----------

  /** Mutes or unmutes our microphone or camera; without one, tries to open it again. */
  async #toggleDevice(kind: DeviceKind): Promise<void> {
    const track = this.#local?.stream.getTracks().find((candidate) => candidate.kind === kind && live(candidate));
    if (track) {
      this.room.setMuted(track, track.enabled);
      this.#local?.tile.render();
      this.#render();
      return;
    }
    if (this.#busy) return;
    this.#busy = true;
    this.#render();
    const added = await openDevice(kind);
    this.#busy = false;
    if (!this.#joined) stopTracks(added.stream);
    else if (added.stream) this.#republishWith(added.stream);
    else this.#say(added.problem);
    this.#render();
  }

  /**
   * Publishes our camera stream again with a newly opened device in it. A
   * published stream's tracks are fixed, so the old one goes and a new one
   * takes its place: the others see our tile blink once.
   */
  #republishWith(added: MediaStream): void {
    const tracks = [...(this.#local?.stream.getTracks() ?? []), ...added.getTracks()];
    const local = this.#local;
    if (local) {
      this.#local = null;
      this.room.removeStream(local.stream);
      this.#meter.unwatch(local.tile);
      local.tile.close();
    }
    this.#say(null);
    this.#publishCamera(new MediaStream(tracks));
  }

  // ---------- Screen ----------

  async #toggleScreen(): Promise<void> {
    if (this.#screen) {
      this.#stopScreen();
      this.#render();
      return;
    }
    if (this.#busy) return;
    if (typeof navigator.mediaDevices?.getDisplayMedia !== "function") {
      this.#say(NO_SCREEN_SHARING);
      return;
    }
    this.#busy = true;
    this.#render();
    const { stream, problem } = await openScreen();
    this.#busy = false;
    if (stream && this.#joined) this.#publishScreen(stream);
    else stopTracks(stream);
    if (problem) this.#say(problem);
    this.#render();
  }

  #publishScreen(stream: MediaStream): void {
    const video = stream.getVideoTracks()[0];
    // Text on a screen must stay sharp: the encoder keeps detail and drops frames instead.
    if (video) video.contentHint = "detail";
    try {
      this.room.addStream(stream, { label: "screen" });
    } catch (error) {
      stopTracks(stream);
      this.#say(`Your screen couldn't be shared: ${describeError(error)}.`);
      return;
    }
    // Stopped from the browser's own "Stop sharing" button: stop publishing it too.
    video?.addEventListener("ended", () => {
      if (this.#screen?.stream !== stream) return;
      this.#stopScreen();
      this.#render();
    });
    const tile = new Tile(this.#self(), "screen", stream);
    this.#screen = { stream, tile };
    this.#grid.prepend(tile.element);
  }

  #stopScreen(): void {
    const screen = this.#screen;
    if (!screen) return;
    this.#screen = null;
    this.#withdraw(screen);
  }

  // ---------- What the card shows ----------

  /** One message at a time in the card, or none. */
  #say(text: string | null): void {
    this.#message.textContent = text ?? "";
  }

  #render(): void {
    const joined = this.#joined;
    this.#card.classList.toggle("is-joined", joined);
    this.#join.hidden = joined;
    this.#join.disabled = !this.#enabled || this.#busy;
    this.#joinText.textContent = this.#busy && !joined ? "Joining…" : "Join call";
    for (const button of [this.#mic, this.#camera, this.#share, this.#hangUp]) button.hidden = !joined;
    this.#share.disabled = this.#busy;
    this.#mic.setAttribute("aria-pressed", String(this.#deviceOn("audio")));
    this.#camera.setAttribute("aria-pressed", String(this.#deviceOn("video")));
    this.#share.setAttribute("aria-pressed", String(this.#screen !== null));
    this.#renderGrid();
    this.#renderHint();
  }

  #deviceOn(kind: DeviceKind): boolean {
    return (
      this.#local?.stream.getTracks().some((track) => track.kind === kind && live(track) && track.enabled) ?? false
    );
  }

  /** Cameras share the rows (two a row, three from five on); screens take a row of their own. */
  #renderGrid(): void {
    const cameras = this.#grid.querySelectorAll(".tile-camera").length;
    this.#grid.dataset.columns = cameras > 4 ? "3" : "2";
    const people = this.#others() + (this.#joined ? 1 : 0);
    this.#count.textContent = people > 0 ? `${people} in call` : "";
  }

  #others(): number {
    return new Set([...this.#remote.values()].map((tile) => tile.owner.id)).size;
  }

  #renderHint(): void {
    const others = this.#others();
    let hint = "";
    if (!this.#enabled) hint = "You're no longer connected to the room.";
    else if (!this.#joined && others === 0)
      hint = "Nobody is in the call yet. Others see and hear you only once you join.";
    else if (!this.#joined)
      hint = `${others === 1 ? "1 person is" : `${others} people are`} in the call. Join to hear them and be heard.`;
    else if (others === 0) hint = "You're in the call. Waiting for others to join…";
    this.#hint.textContent = hint;
    this.#hint.hidden = hint === "";
  }
}

// ---------- Devices ----------

interface Opened {
  stream: MediaStream | null;
  /** What did not work, in plain words, or null. */
  problem: string | null;
}

function getUserMedia(kinds: DeviceKind[]): Promise<MediaStream> {
  const constraints: MediaStreamConstraints = {};
  for (const kind of kinds) constraints[kind] = DEVICE_CONSTRAINTS[kind];
  return navigator.mediaDevices.getUserMedia(constraints);
}

function hasMediaDevices(): boolean {
  return typeof navigator.mediaDevices?.getUserMedia === "function";
}

/**
 * The camera and microphone, or whichever of them works (a laptop without a
 * camera, a camera that is blocked), and what is missing in plain words.
 */
async function openCamera(): Promise<Opened> {
  if (!hasMediaDevices()) return { stream: null, problem: NO_DEVICES };
  try {
    return { stream: await getUserMedia(["audio", "video"]), problem: null };
  } catch (error) {
    return openSeparately(error);
  }
}

/** After both together failed: each device on its own, where that can still work. */
async function openSeparately(error: unknown): Promise<Opened> {
  const tracks: MediaStreamTrack[] = [];
  const failures = new Map<DeviceKind, unknown>([
    ["audio", error],
    ["video", error],
  ]);
  for (const kind of await worthRetrying(error)) {
    try {
      tracks.push(...(await getUserMedia([kind])).getTracks());
      failures.delete(kind);
    } catch (again) {
      failures.set(kind, again);
    }
  }
  const stream = tracks.length > 0 ? new MediaStream(tracks) : null;
  const audio = failures.get("audio");
  const video = failures.get("video");
  if (!failures.has("video"))
    return { stream, problem: `${deviceProblem(audio, "microphone")} Others can see you but not hear you.` };
  if (!failures.has("audio"))
    return { stream, problem: `${deviceProblem(video, "camera")} You joined with your microphone only.` };
  return {
    stream,
    problem: `${deviceProblem(error, "camera and microphone")} You can still see and hear the others.`,
  };
}

/**
 * Which devices to ask for one by one. A missing or busy device says nothing
 * about the other; a blocked one may, so we ask only for a device the browser
 * has not blocked, and only when the other is blocked (else we would prompt a
 * person who just said no, twice more).
 */
async function worthRetrying(error: unknown): Promise<DeviceKind[]> {
  const name = errorName(error);
  if (name !== "NotAllowedError" && name !== "SecurityError") return ["audio", "video"];
  const [microphone, camera] = await Promise.all([permission("microphone"), permission("camera")]);
  if (microphone === "denied" && camera !== "denied" && camera !== null) return ["video"];
  if (camera === "denied" && microphone !== "denied" && microphone !== null) return ["audio"];
  return [];
}

/** A permission's state, or null where the browser cannot say. */
async function permission(name: "camera" | "microphone"): Promise<PermissionState | null> {
  try {
    return (await navigator.permissions.query({ name })).state;
  } catch {
    return null;
  }
}

/** One more device, asked for from its button after joining without it. */
async function openDevice(kind: DeviceKind): Promise<Opened> {
  if (!hasMediaDevices()) return { stream: null, problem: NO_DEVICES };
  try {
    return { stream: await getUserMedia([kind]), problem: null };
  } catch (error) {
    return { stream: null, problem: deviceProblem(error, kind === "audio" ? "microphone" : "camera") };
  }
}

async function openScreen(): Promise<Opened> {
  try {
    // Video only: a tab's sound would compete with the voices for the two audio slots.
    return { stream: await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }), problem: null };
  } catch (error) {
    return { stream: null, problem: screenProblem(error) };
  }
}

type Device = "camera" | "microphone" | "camera and microphone";

function deviceProblem(error: unknown, what: Device): string {
  const both = what === "camera and microphone";
  switch (errorName(error)) {
    case "NotAllowedError":
    case "SecurityError":
      return `Your browser is blocking the ${what} on this page. Allow ${both ? "them" : "it"} in the site settings (the icon beside the address), then try again.`;
    case "NotFoundError":
    case "OverconstrainedError":
      return both ? "No camera or microphone was found." : `No ${what} was found.`;
    case "NotReadableError":
    case "AbortError":
      return `Your ${what} couldn't be started: another app may be using ${both ? "them" : "it"}.`;
    default:
      return `Your ${what} couldn't be started.`;
  }
}

/** Cancelling the browser's picker is a choice, not a problem: it says nothing. */
function screenProblem(error: unknown): string | null {
  const name = errorName(error);
  if (name === "NotAllowedError")
    return error instanceof Error && /system/i.test(error.message) ? SCREEN_BLOCKED : null;
  if (name === "NotSupportedError" || name === "TypeError") return NO_SCREEN_SHARING;
  return "Your screen couldn't be shared.";
}

function errorName(error: unknown): string {
  return error instanceof Error || error instanceof DOMException ? error.name : "";
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function stopTracks(stream: MediaStream | null): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
