/** The room page (`/r/:room`): asks for a name once, joins, and wires the mesh to the UI. */
import type { generateKey, joinRoom, MeshRoom, MeshRoomEvents, Peer } from "/mesh.js";
import { Banner } from "./banner";
import { Call } from "./call";
import { asChatMessage, Chat } from "./chat";
import { byId, type Child, isolated } from "./dom";
import { setUpDropZone } from "./drop";
import { displayName, formatBytes, visibleFileName } from "./format";
import { setUpInvite } from "./invite";
import { cleanName, loadName, randomRoomName, roomPath, saveName } from "./names";
import { PeerList } from "./peers";
import { keyFromHash, Privacy } from "./privacy";
import { Transfers } from "./transfers";

/** What the room page needs from `/mesh.js`. */
export interface MeshLibrary {
  joinRoom: typeof joinRoom;
  generateKey: typeof generateKey;
}

function on<K extends keyof MeshRoomEvents>(
  room: MeshRoom,
  type: K,
  listener: (detail: MeshRoomEvents[K]) => void,
): void {
  room.addEventListener(type, (event) => listener(event.detail));
}

/** The largest file this app accepts (the library's default, said here so the app can tell people). */
const MAX_FILE_SIZE = 4 * 1024 ** 3;

const DAMAGED_KEY =
  "This link's key is damaged (the part after “#”), so this encrypted room can't be opened. Ask for the full link again.";

export function startRoom(roomName: string, mesh: MeshLibrary): void {
  document.title = `${roomName} · Rendezvous`;
  const heading = byId("room-name", HTMLElement);
  heading.textContent = roomName;
  heading.title = roomName;

  const banner = new Banner();
  const sections = ["call", "chat", "files"].map((id) => byId(id, HTMLElement));
  const newRoom = () => `${roomPath(randomRoomName())}#${mesh.generateKey()}`;
  // The key rides in the fragment, which the browser never sends: editing it means another room.
  addEventListener("hashchange", () => location.reload());

  const linkKey = keyFromHash(location.hash);
  if (linkKey.kind === "damaged") {
    showDamaged(banner, newRoom());
    return;
  }
  const key = linkKey.kind === "key" ? linkKey.key : null;
  setUpInvite(new URL(roomPath(roomName) + (key ? `#${key}` : ""), location.origin).href);

  const nameStep = byId("name-step", HTMLElement);
  const nameForm = byId("name-form", HTMLFormElement);
  const nameInput = byId("name-input", HTMLInputElement);
  const nameCancel = byId("name-cancel", HTMLButtonElement);
  let session: Session | null = null;

  // A changed choice applies to the next join: leave cleanly and come back, as a new name does.
  const privacy = new Privacy(roomName, key !== null, newRoom(), () => {
    if (!session) return;
    session.leave(false);
    location.reload();
  });

  const askName = (changing: boolean) => {
    nameInput.value = loadName() ?? "";
    nameCancel.hidden = !changing;
    nameStep.hidden = false;
    for (const section of sections) section.hidden = true;
    nameInput.focus();
  };
  const closeNameStep = () => {
    nameStep.hidden = true;
    for (const section of sections) section.hidden = false;
  };
  const start = (name: string) => {
    closeNameStep();
    const context: Context = { roomName, name, key, mesh, banner, privacy, newRoom, changeName: () => askName(true) };
    session = enter(context);
  };

  nameForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = cleanName(nameInput.value);
    saveName(name);
    if (session) {
      // A new name means a new identity in the room: leave cleanly and come back.
      session.leave(false);
      location.reload();
      return;
    }
    start(name);
    if (session) byId("copy-link", HTMLElement).focus();
  });
  nameCancel.addEventListener("click", () => {
    closeNameStep();
    byId("chat-input", HTMLElement).focus();
  });

  const stored = loadName();
  if (stored === null) askName(false);
  else start(stored);
}

/** A link whose key cannot be read: say so, join nothing, and offer a way on. */
function showDamaged(banner: Banner, newRoom: string): void {
  byId("name-step", HTMLElement).hidden = true;
  for (const id of ["call", "chat", "files"]) byId(id, HTMLElement).hidden = true;
  byId("room-link", HTMLInputElement).closest("aside")?.setAttribute("hidden", "");
  banner.show("bad-key", "error", DAMAGED_KEY, { actions: [{ label: "Start a new room", href: newRoom }] });
}

interface Session {
  leave(announce: boolean): void;
}

interface Context {
  roomName: string;
  name: string;
  key: string | null;
  mesh: MeshLibrary;
  banner: Banner;
  privacy: Privacy;
  newRoom: () => string;
  changeName: () => void;
}

function enter({ roomName, name, key, mesh, banner, privacy, newRoom, changeName }: Context): Session | null {
  const hideIp = privacy.hideIp;
  let room: MeshRoom;
  try {
    room = mesh.joinRoom(roomName, {
      ...(name ? { name } : {}),
      ...(key ? { key } : {}),
      ...(hideIp ? { relay: true } : {}),
      maxFileSize: MAX_FILE_SIZE,
    });
  } catch (error) {
    // The library's own check of the key is the last word.
    if (!(error instanceof TypeError) || key === null) throw error;
    showDamaged(banner, newRoom());
    return null;
  }
  const leaveButton = byId("leave", HTMLButtonElement);
  const fileInput = byId("file-input", HTMLInputElement);
  // A reload, not a link: a link to this very URL and its fragment would not leave the page.
  const rejoin = { label: "Rejoin", run: () => location.reload() };
  let left = false;
  let fatal = false;
  let closedHint = "Disconnected from the room.";

  // Key mismatches: whom we cannot reach, who was here before us, whom we ever reached.
  const mismatched = new Set<string>();
  const before = new Set<string>();
  const reached = new Set<string>();

  const connected = (): Readonly<Peer>[] => [...room.peers.values()].filter((peer) => peer.state === "connected");
  const nameOf = (id: string): string | null => room.peers.get(id)?.name ?? null;

  const peers = new PeerList(name, changeName);
  const transfers = new Transfers();
  const call = new Call(room, name);
  const chat = new Chat((text) => {
    try {
      if (room.send({ kind: "chat", text }) > 0) {
        chat.add({ id: room.id ?? "", name, mine: true }, text);
        return true;
      }
    } catch {
      // Nobody connected after all: reported below.
    }
    banner.show("send", "error", "Not sent: nobody is connected right now.", { timeoutMs: 6000 });
    return false;
  });

  const refresh = () => {
    const closed = left || room.signalingState === "closed";
    const ready = !closed && connected().length > 0;
    let hint = "Enter to send, Shift+Enter for a new line.";
    if (left) hint = "You left the room.";
    else if (closed) hint = closedHint;
    else if (room.peers.size === 0) hint = "Nobody else is here yet. Chat opens once someone connects.";
    else if (!ready && mismatched.size === room.peers.size)
      hint = "You can't connect to anyone here: your keys differ.";
    else if (!ready) hint = "Connecting to the people in this room…";
    chat.setEnabled(ready, hint);
    fileInput.disabled = !ready;
    leaveButton.disabled = closed;
    // Out of the room, out of the call: the camera and microphone stop.
    call.setEnabled(!closed);
    peers.setSelfState(left ? "closed" : room.signalingState);
    peers.setSelfId(room.id);
  };

  /**
   * One message for every key mismatch at once. We are the odd one out when
   * we reached nobody here and someone who was here before us refuses our
   * key; otherwise the ones who came later have the wrong link.
   */
  const showKeyProblem = () => {
    if (mismatched.size === 0 || left) {
      banner.clear("key-mismatch");
      return;
    }
    const present = [...room.peers.keys()];
    const oddOneOut = present.every((id) => !reached.has(id)) && [...mismatched].some((id) => before.has(id));
    const them = [...mismatched].flatMap((id) => room.peers.get(id) ?? []);
    const who = describe(them);
    const has = them.length === 1 ? "has" : "have";
    let text: string | Child[];
    if (oddOneOut && key) {
      text =
        "This room is encrypted and your link's key doesn't match, so you can't connect to anyone here. Ask for the full link again (it ends with “#…”).";
    } else if (oddOneOut) {
      text = "This room is end-to-end encrypted. Ask for the full link, including the part after “#”, to connect.";
    } else if (key) {
      text = [
        ...who,
        ` ${has} a link with a different key, so you can't connect to each other. Send them the full link (it ends with “#…”).`,
      ];
    } else {
      text = [
        ...who,
        ` ${has} an encrypted link to this room, and yours has no key, so you can't connect to each other.`,
      ];
    }
    banner.show("key-mismatch", oddOneOut ? "error" : "warning", text);
  };

  const sendFiles = (files: File[]) => {
    for (const file of files) {
      const receivers = connected();
      if (receivers.length === 0) {
        banner.show("send", "error", "Nobody is connected: the file was not sent.", { timeoutMs: 6000 });
        return;
      }
      try {
        transfers.addOutgoing(room.sendFile(file), describe(receivers));
      } catch (error) {
        banner.show(
          "send",
          "error",
          [
            "Could not send ",
            isolated(visibleFileName(file.name)),
            `: ${error instanceof Error ? error.message : String(error)}`,
          ],
          { timeoutMs: 6000 },
        );
      }
    }
  };

  const leave = (announce: boolean) => {
    if (left) return;
    left = true;
    room.leave();
    refresh();
    if (!announce) return;
    banner.show("left", "info", "You left the room.", { actions: [rejoin] });
    byId("banner", HTMLElement).querySelector("button")?.focus();
  };

  // The first welcome's peers join before signaling first says connected: they were here first.
  let welcomed = false;
  on(room, "peer-join", ({ peer }) => {
    if (!welcomed) before.add(peer.id);
  });
  on(room, "peer-connect", ({ peer }) => reached.add(peer.id));
  for (const type of ["peer-join", "peer-state", "peer-connect"] as const) {
    on(room, type, ({ peer }) => {
      peers.update(peer);
      refresh();
    });
  }
  on(room, "peer-leave", ({ peer }) => {
    peers.remove(peer.id);
    for (const set of [mismatched, before, reached]) set.delete(peer.id);
    refresh();
    if (banner.key === "key-mismatch") showKeyProblem();
  });
  on(room, "message", ({ from, data }) => {
    const message = asChatMessage(data);
    if (message) chat.add({ id: from, name: nameOf(from), mine: false }, message.text);
  });
  on(room, "file-start", ({ from, transfer }) => transfers.addIncoming(transfer, displayName(nameOf(from))));
  on(room, "file", ({ transfer, blob }) => transfers.complete(transfer, blob));
  on(room, "signaling", ({ state }) => {
    refresh();
    if (state === "connected" && !welcomed) {
      welcomed = true;
      if (!room.relayAvailable) privacy.relayUnavailable();
    }
    if (state === "reconnecting") banner.show("signaling", "warning", "Reconnecting…", { busy: true });
    else if (state === "connected" && banner.key === "signaling") {
      banner.clear("signaling");
      showKeyProblem();
    } else if (state === "closed" && !left && !fatal) {
      banner.show("closed", "error", "You were disconnected from the room.", { actions: [rejoin] });
    }
  });
  on(room, "error", ({ code, message, peer: id }) => {
    if (code === "room-full") {
      fatal = true;
      closedHint = "This room is full.";
      banner.show("room-full", "warning", "This room is full. Try again later, or start a new room.", {
        actions: [
          { label: "Try again", run: () => location.reload() },
          { label: "New room", href: newRoom() },
        ],
      });
    } else if (code === "bad-name") {
      fatal = true;
      closedHint = "Your name was refused.";
      banner.show("bad-name", "error", `This name was refused: ${message}.`, {
        actions: [{ label: "Change name", run: changeName }],
      });
    } else if (code === "key-mismatch") {
      // A peer whose link failed is one we cannot reach; a stray frame from a connected one changes nothing.
      const peer = id === undefined ? undefined : room.peers.get(id);
      if (peer?.state !== "failed") return;
      mismatched.add(peer.id);
      peers.markMismatch(peer);
      refresh();
      showKeyProblem();
    } else if (code === "replaced") {
      fatal = true;
      closedHint = "This room is open in another tab or window.";
      banner.show(
        "replaced",
        "warning",
        "This room was opened in another tab or window, and your place in it moved there. Carry on there, or rejoin here.",
        { actions: [{ label: "Rejoin here", run: () => location.reload() }] },
      );
    } else if (code === "file-too-large" || code === "too-many-files") {
      const why =
        code === "file-too-large"
          ? `it is larger than ${formatBytes(MAX_FILE_SIZE)}, the most this page accepts.`
          : "8 of their files are already arriving, the most at once. It can be sent again once those are done.";
      const from = isolated(displayName(id === undefined ? null : nameOf(id)));
      banner.show("file-refused", "warning", ["A file from ", from, ` was refused: ${why}`], {
        timeoutMs: 10_000,
      });
    } else if (code === "relay-unavailable") {
      privacy.relayUnavailable();
      banner.show(
        "relay",
        "error",
        "“Hide my IP address” is on, but this server has no relay (TURN), so you can't connect to anyone this way.",
        { actions: [{ label: "Turn it off", run: () => privacy.turnOff() }] },
      );
    } else if (code !== "unknown-peer") {
      // unknown-peer is a race with a departure the room is about to announce: nothing to tell a person.
      banner.show("error", "error", capitalize(message), { timeoutMs: 8000 });
    }
  });

  leaveButton.hidden = false;
  leaveButton.addEventListener("click", () => leave(true));
  fileInput.addEventListener("change", () => {
    sendFiles([...(fileInput.files ?? [])]);
    fileInput.value = "";
  });
  setUpDropZone(byId("drop-zone", HTMLElement), () => !left && connected().length > 0, sendFiles);

  // Closing the tab is leaving: the others should not wait for a resume that never comes.
  addEventListener("pagehide", () => leave(false));
  addEventListener("pageshow", (event) => {
    if (event.persisted) location.reload();
  });

  refresh();
  return { leave };
}

/** "Ann", "Ann and Bob", "3 people": each name isolated. */
function describe(receivers: Readonly<Peer>[]): Child[] {
  if (receivers.length > 2) return [`${receivers.length} people`];
  const names = receivers.map((peer) => isolated(displayName(peer.name)));
  return names.length === 2 ? [names[0], " and ", names[1]] : names;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
