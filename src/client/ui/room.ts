/** The room page (`/r/:room`): asks for a name once, joins, and wires the mesh to the UI. */
import type { joinRoom, MeshRoom, MeshRoomEvents, Peer } from "/mesh.js";
import { Banner } from "./banner";
import { asChatMessage, Chat } from "./chat";
import { byId } from "./dom";
import { setUpDropZone } from "./drop";
import { displayName } from "./format";
import { setUpInvite } from "./invite";
import { cleanName, loadName, randomRoomName, roomPath, saveName } from "./names";
import { PeerList } from "./peers";
import { Transfers } from "./transfers";

type Join = typeof joinRoom;

function on<K extends keyof MeshRoomEvents>(
  room: MeshRoom,
  type: K,
  listener: (detail: MeshRoomEvents[K]) => void,
): void {
  room.addEventListener(type, (event) => listener(event.detail));
}

export function startRoom(roomName: string, join: Join): void {
  document.title = `${roomName} · Rendezvous`;
  const heading = byId("room-name", HTMLElement);
  heading.textContent = roomName;
  heading.title = roomName;
  setUpInvite(new URL(roomPath(roomName), location.origin).href);

  const banner = new Banner();
  const nameStep = byId("name-step", HTMLElement);
  const nameForm = byId("name-form", HTMLFormElement);
  const nameInput = byId("name-input", HTMLInputElement);
  const nameCancel = byId("name-cancel", HTMLButtonElement);
  const sections = [byId("chat", HTMLElement), byId("files", HTMLElement)];
  let session: Session | null = null;

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
    closeNameStep();
    session = enter(roomName, name, join, banner, () => askName(true));
    byId("copy-link", HTMLElement).focus();
  });
  nameCancel.addEventListener("click", () => {
    closeNameStep();
    byId("chat-input", HTMLElement).focus();
  });

  const stored = loadName();
  if (stored === null) askName(false);
  else {
    closeNameStep();
    session = enter(roomName, stored, join, banner, () => askName(true));
  }
}

interface Session {
  leave(announce: boolean): void;
}

function enter(roomName: string, name: string, join: Join, banner: Banner, changeName: () => void): Session {
  const room = join(roomName, name ? { name } : {});
  const leaveButton = byId("leave", HTMLButtonElement);
  const fileInput = byId("file-input", HTMLInputElement);
  const rejoin = { label: "Rejoin", href: roomPath(roomName) };
  let left = false;
  let fatal = false;
  let closedHint = "Disconnected from the room.";

  const connected = (): Readonly<Peer>[] => [...room.peers.values()].filter((peer) => peer.state === "connected");
  const nameOf = (id: string): string | null => room.peers.get(id)?.name ?? null;

  const peers = new PeerList(name, changeName);
  const transfers = new Transfers();
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
    else if (!ready) hint = "Connecting to the people in this room…";
    chat.setEnabled(ready, hint);
    fileInput.disabled = !ready;
    leaveButton.disabled = closed;
    peers.setSelfState(left ? "closed" : room.signalingState);
    peers.setSelfId(room.id);
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
          `Could not send ${file.name}: ${error instanceof Error ? error.message : String(error)}`,
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
    byId("banner", HTMLElement).querySelector("a")?.focus();
  };

  for (const type of ["peer-join", "peer-state", "peer-connect"] as const) {
    on(room, type, ({ peer }) => {
      peers.update(peer);
      refresh();
    });
  }
  on(room, "peer-leave", ({ peer }) => {
    peers.remove(peer.id);
    refresh();
  });
  on(room, "message", ({ from, data }) => {
    const message = asChatMessage(data);
    if (message) chat.add({ id: from, name: nameOf(from), mine: false }, message.text);
  });
  on(room, "file-start", ({ from, transfer }) => transfers.addIncoming(transfer, from, displayName(nameOf(from))));
  on(room, "file", ({ from, name: fileName, blob }) => transfers.complete(from, fileName, blob));
  on(room, "signaling", ({ state }) => {
    refresh();
    if (state === "reconnecting") banner.show("signaling", "warning", "Reconnecting…", { busy: true });
    else if (state === "connected") banner.clear("signaling");
    else if (state === "closed" && !left && !fatal) {
      banner.show("closed", "error", "You were disconnected from the room.", { actions: [rejoin] });
    }
  });
  on(room, "error", ({ code, message }) => {
    if (code === "room-full") {
      fatal = true;
      closedHint = "This room is full.";
      banner.show("room-full", "warning", "This room is full. Try again later, or start a new room.", {
        actions: [
          { label: "Try again", href: roomPath(roomName) },
          { label: "New room", href: roomPath(randomRoomName()) },
        ],
      });
    } else if (code === "bad-name") {
      fatal = true;
      closedHint = "Your name was refused.";
      banner.show("bad-name", "error", `This name was refused: ${message}.`, {
        actions: [{ label: "Change name", run: changeName }],
      });
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

/** "Ann", "Ann and Bob", "3 people". */
function describe(receivers: Readonly<Peer>[]): string {
  const names = receivers.map((peer) => displayName(peer.name));
  if (names.length <= 2) return names.join(" and ");
  return `${names.length} people`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
