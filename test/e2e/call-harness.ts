/**
 * Calls in real pages, the same in Chromium (playwright-core) and Firefox
 * (puppeteer-core): a script that joins a room with `/mesh.js`, publishes
 * fake-device or synthetic media, and keeps what arrives on `window.call`,
 * with in-page waits that resolve on events (a decoded frame, a track event)
 * rather than polling from the test.
 *
 * Synthetic media is deterministic: a canvas filled with one colour (so a
 * receiver can tell which source it sees) and a steady 440 Hz tone.
 */

/** What a test reads of one remote track. */
export interface RemoteTrackInfo {
  from: string;
  kind: string;
  label: string;
  muted: boolean;
  readyState: string;
}

/** The slice of a page both drivers share: one function and one argument. */
export interface CallPage {
  evaluate<T, A>(fn: (arg: A) => T | Promise<T>, arg: A): Promise<T>;
  /** Runs source as given: for what the test bundler must not rewrite, such as an import(). */
  run(source: string): Promise<unknown>;
}

/**
 * A CallPage over either driver's `evaluate(script)`. Both run the function's
 * source with its JSON argument, as their own `evaluate(fn, arg)` would; their
 * typings differ too much to share that directly. The result is whatever the
 * function returned, so its type is the function's.
 */
export function callPage(evaluate: (script: string) => Promise<unknown>): CallPage {
  return { evaluate: (fn, arg) => evaluate(`(${fn})(${JSON.stringify(arg)})`) as Promise<never>, run: evaluate };
}

interface CallState {
  room: import("../../src/client/mesh").MeshRoom;
  id: string;
  remote: { from: string; track: MediaStreamTrack; stream: MediaStream; label: string; muted: boolean }[];
  removed: { from: string; stream: MediaStream }[];
  messages: unknown[];
  local: Map<string, MediaStream>;
  /** Offers this page sent since it joined (renegotiations show up here). */
  offers: number;
  /** Every RTCPeerConnection the library made, in order. */
  pcs: RTCPeerConnection[];
  /** Resolves once `done()` holds, checking now and after each room event of `type`. */
  until(type: string, done: () => boolean): Promise<void>;
}

declare global {
  interface Window {
    call: CallState;
    callLib: typeof import("/mesh.js");
  }
}

/** Joins `room` in the page (already on the app's origin) and resolves with the peer id. */
export async function joinCall(page: CallPage, room: string, name: string): Promise<string> {
  await page.run('import("/mesh.js").then((library) => { window.callLib = library; })');
  return page.evaluate(
    async ({ room, name }) => {
      const send = WebSocket.prototype.send;
      const pcs: RTCPeerConnection[] = [];
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(configuration?: RTCConfiguration) {
          super(configuration);
          pcs.push(this);
        }
      };
      const mesh = window.callLib.joinRoom(room, { name });
      const state: CallState = {
        room: mesh,
        id: "",
        remote: [],
        removed: [],
        messages: [],
        local: new Map(),
        offers: 0,
        pcs,
        until: (type, done) =>
          new Promise<void>((resolve) => {
            const check = () => {
              if (done()) resolve();
              else mesh.addEventListener(type, check, { once: true });
            };
            check();
          }),
      };
      window.call = state;
      WebSocket.prototype.send = function (data) {
        if (typeof data === "string" && data.startsWith('{"type":"offer"')) state.offers += 1;
        return send.call(this, data);
      };
      mesh.addEventListener("track", ({ detail }) => {
        const [stream] = detail.streams;
        if (!stream) return;
        state.remote.push({ from: detail.from, track: detail.track, stream, label: detail.label, muted: detail.muted });
        // Played, as an application would: Chromium decodes remote audio only for a sink that pulls it.
        if (detail.track.kind === "audio") {
          const element = new Audio();
          element.muted = true;
          element.srcObject = new MediaStream([detail.track]);
          void element.play();
        }
      });
      mesh.addEventListener("track-muted", ({ detail }) => {
        for (const remote of state.remote) if (remote.track === detail.track) remote.muted = detail.muted;
      });
      mesh.addEventListener("stream-removed", ({ detail }) => state.removed.push(detail));
      mesh.addEventListener("message", ({ detail }) => state.messages.push(detail.data));
      return new Promise<string>((resolve) => {
        mesh.addEventListener("signaling", () => {
          if (mesh.signalingState !== "connected" || !mesh.id) return;
          state.id = mesh.id;
          resolve(mesh.id);
        });
      });
    },
    { room, name },
  );
}

/** Waits until the page is connected to `count` peers. */
export function connectedPeers(page: CallPage, count: number): Promise<void> {
  return page.evaluate(
    (count) =>
      window.call.until(
        "peer-state",
        () => [...window.call.room.peers.values()].filter((peer) => peer.state === "connected").length === count,
      ),
    count,
  );
}

/** Publishes the fake camera and microphone under "camera". */
export function publishCamera(page: CallPage): Promise<void> {
  return page.evaluate(async () => {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
    window.call.local.set("camera", stream);
    window.call.room.addStream(stream, { label: "camera" });
  }, null);
}

/** Publishes synthetic media under `label`: a canvas of `color` and/or a 440 Hz tone. */
export function publishSynthetic(
  page: CallPage,
  label: string,
  media: { color?: string; tone?: boolean },
): Promise<void> {
  return page.evaluate(
    ({ label, media }) => {
      const tracks: MediaStreamTrack[] = [];
      if (media.color) tracks.push(canvasTrack(media.color));
      if (media.tone) {
        const audio = new AudioContext();
        const oscillator = audio.createOscillator();
        const out = audio.createMediaStreamDestination();
        oscillator.connect(out);
        oscillator.start();
        void audio.resume();
        tracks.push(...out.stream.getAudioTracks());
      }
      const stream = new MediaStream(tracks);
      window.call.local.set(label, stream);
      window.call.room.addStream(stream, { label });

      function canvasTrack(color: string): MediaStreamTrack {
        const canvas = document.createElement("canvas");
        canvas.width = 160;
        canvas.height = 120;
        const context = canvas.getContext("2d");
        // Redrawn steadily, so the track keeps producing frames.
        const paint = () => {
          if (!context) return;
          context.fillStyle = color;
          context.fillRect(0, 0, canvas.width, canvas.height);
          requestAnimationFrame(paint);
        };
        paint();
        const [track] = canvas.captureStream(15).getVideoTracks();
        if (!track) throw new Error("no canvas track");
        return track;
      }
    },
    { label, media },
  );
}

/** The remote tracks this page has been given, as plain data. */
export function remoteTracks(page: CallPage): Promise<RemoteTrackInfo[]> {
  return page.evaluate(
    () =>
      window.call.remote.map(({ from, track, label, muted }) => ({
        from,
        kind: track.kind,
        label,
        muted,
        readyState: track.readyState,
      })),
    null,
  );
}

/** Waits until the page has `count` live remote tracks. */
export function waitForTracks(page: CallPage, count: number): Promise<void> {
  return page.evaluate(
    (count) =>
      window.call.until(
        "track",
        () => window.call.remote.filter(({ track }) => track.readyState === "live").length >= count,
      ),
    count,
  );
}

/**
 * Decodes `frames` video frames from the remote video track from `from` with
 * `label`, in a <video> as an application would, and resolves with the centre
 * pixel's colour of the last one ("r,g,b").
 */
export function decodeFrames(page: CallPage, from: string, label: string, frames: number): Promise<string> {
  return page.evaluate(
    ({ from, label, frames }) =>
      new Promise<string>((resolve, reject) => {
        const remote = window.call.remote.find(
          (r) => r.from === from && r.label === label && r.track.kind === "video" && r.track.readyState === "live",
        );
        if (!remote) {
          reject(new Error(`no live ${label} video from ${from}`));
          return;
        }
        const video = document.createElement("video");
        video.muted = true;
        video.playsInline = true;
        video.srcObject = new MediaStream([remote.track]);
        document.body.append(video);
        let seen = 0;
        const onFrame = () => {
          seen += 1;
          if (seen < frames) {
            video.requestVideoFrameCallback(onFrame);
            return;
          }
          const canvas = document.createElement("canvas");
          canvas.width = video.videoWidth;
          canvas.height = video.videoHeight;
          const context = canvas.getContext("2d");
          context?.drawImage(video, 0, 0);
          const pixel = context?.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data;
          video.remove();
          resolve(pixel ? `${pixel[0]},${pixel[1]},${pixel[2]}` : "");
        };
        video.requestVideoFrameCallback(onFrame);
        void video.play();
      }),
    { from, label, frames },
  );
}

/**
 * Listens to the page's remote audio until every source is `sound` (louder
 * than digital silence) or `silence` (quiet for 500 ms straight); resolves
 * with whether that happened within `within` ms. A source is each live remote
 * audio track through WebAudio, as an application hears it; where the page
 * has no audio output to run WebAudio on (Firefox here), each connection's
 * decoded audio energy from getStats instead.
 */
export function hears(page: CallPage, what: "sound" | "silence", within: number): Promise<boolean> {
  return page.evaluate(
    async ({ what, within }) => {
      const SILENT_FOR_MS = 500;
      const audio = new AudioContext();
      const running = await Promise.race([
        audio.resume().then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 500)),
      ]);
      /** Each source's loudness now: RMS, or the energy decoded since the last reading. */
      let sources: (() => Promise<number>)[];
      if (running) {
        sources = window.call.remote
          .filter(({ track }) => track.kind === "audio" && track.readyState === "live")
          .map(({ track }) => {
            const analyser = audio.createAnalyser();
            audio.createMediaStreamSource(new MediaStream([track])).connect(analyser);
            const samples = new Float32Array(analyser.fftSize);
            return async () => {
              analyser.getFloatTimeDomainData(samples);
              let sum = 0;
              for (const sample of samples) sum += sample * sample;
              return Math.sqrt(sum / samples.length) > 0.01 ? 1 : 0;
            };
          });
      } else {
        sources = window.call.pcs
          .filter((pc) => pc.connectionState === "connected")
          .map((pc) => {
            let last = -1;
            return async () => {
              let total = 0;
              (await pc.getStats()).forEach((report) => {
                if (report.type === "inbound-rtp" && report.kind === "audio") total += report.totalAudioEnergy ?? 0;
              });
              const rose = last >= 0 && total - last > 1e-6;
              last = total;
              return rose ? 1 : 0;
            };
          });
        for (const source of sources) await source();
      }
      const quietSince = sources.map(() => performance.now());
      const loud = sources.map(() => false);
      const deadline = performance.now() + within;
      let done = false;
      // Bounded by the deadline: a reading every 50 ms.
      while (!done && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const now = await Promise.all(sources.map((source) => source()));
        now.forEach((level, i) => {
          if (level === 0) return;
          loud[i] = true;
          quietSince[i] = performance.now();
        });
        done =
          what === "sound" ? loud.every(Boolean) : quietSince.every((at) => performance.now() - at >= SILENT_FOR_MS);
      }
      await audio.close();
      return done && sources.length > 0;
    },
    { what, within },
  );
}

/** Waits until the page's remote `kind` track is shown as `muted` (from `track` or `track-muted`). */
export function waitForMuted(page: CallPage, kind: string, muted: boolean): Promise<void> {
  return page.evaluate(
    ({ kind, muted }) =>
      window.call.until("track-muted", () =>
        window.call.remote.some((r) => r.track.kind === kind && r.muted === muted),
      ),
    { kind, muted },
  );
}

/** The codecs of the media this page receives, as getStats names them ("video/VP8", "audio/opus"). */
export function receivedCodecs(page: CallPage): Promise<string[]> {
  return page.evaluate(async () => {
    const codecs = new Set<string>();
    for (const pc of window.call.pcs) {
      const stats = await pc.getStats();
      stats.forEach((report) => {
        if (report.type !== "inbound-rtp" || !report.codecId || !report.packetsReceived) return;
        const codec = stats.get(report.codecId);
        if (codec?.mimeType) codecs.add(String(codec.mimeType));
      });
    }
    return [...codecs].sort();
  }, null);
}
