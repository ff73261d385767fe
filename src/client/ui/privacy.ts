/**
 * What the room app says about privacy: whether the room is end-to-end
 * encrypted (its key lives in the link's fragment, which browsers never send
 * to a server), and the "Hide my IP address" switch, remembered per room.
 */
import { parseKey } from "../seal";
import { byId, h, s } from "./dom";

/** The room key in a link's fragment: none, a well-formed one, or a damaged one. */
export type LinkKey = { kind: "none" } | { kind: "key"; key: string } | { kind: "damaged" };

/** Reads `location.hash` with the library's own key check, so a damaged link is caught before the name step. */
export function keyFromHash(hash: string): LinkKey {
  const text = hash.replace(/^#/, "");
  if (text === "") return { kind: "none" };
  try {
    parseKey(text);
    return { kind: "key", key: text };
  } catch {
    return { kind: "damaged" };
  }
}

const hideIpKey = (room: string) => `rendezvous:hide-ip:${room}`;

export function loadHideIp(room: string): boolean {
  try {
    return localStorage.getItem(hideIpKey(room)) === "1";
  } catch {
    return false;
  }
}

function saveHideIp(room: string, on: boolean): void {
  try {
    if (on) localStorage.setItem(hideIpKey(room), "1");
    else localStorage.removeItem(hideIpKey(room));
  } catch {
    // Storage may be off (private mode): the choice then lasts until the page reloads.
  }
}

/** A small padlock, closed or open, drawn in the current text colour. */
export function lockIcon(closed: boolean): SVGSVGElement {
  return s(
    "svg",
    { class: "lock-icon", viewBox: "0 0 16 16", "aria-hidden": "true", focusable: "false" },
    s("path", { class: "lock-shackle", d: closed ? "M5 7.5V5a3 3 0 0 1 6 0v2.5" : "M5 7.5V5a3 3 0 0 1 5.8-1.1" }),
    s("rect", { class: "lock-body", x: 3, y: 7, width: 10, height: 7.5, rx: 1.75 }),
  );
}

export class Privacy {
  readonly #switch = byId("hide-ip", HTMLInputElement);
  readonly #relayStatus = byId("relay-status", HTMLElement);

  /**
   * Shows whether the room is encrypted, and wires the switch: `changed` runs
   * after a flip has been remembered (the choice applies from the next join).
   * `newRoom` is the link of a fresh encrypted room, offered in an unkeyed one.
   */
  constructor(room: string, encrypted: boolean, newRoom: string, changed: (on: boolean) => void) {
    const badge = byId("e2e-badge", HTMLElement);
    const label = encrypted ? "End-to-end encrypted" : "Not end-to-end encrypted";
    badge.className = encrypted ? "badge badge-secure" : "badge badge-plain";
    badge.replaceChildren(lockIcon(encrypted), h("span", { class: "badge-text" }, label));
    badge.title = label;
    badge.hidden = false;

    byId("e2e-status", HTMLElement).replaceChildren(
      h("span", { class: encrypted ? "status-icon is-secure" : "status-icon" }, lockIcon(encrypted)),
      h(
        "span",
        { class: "status-text" },
        h("strong", {}, label),
        encrypted
          ? h(
              "span",
              { class: "hint" },
              "Only people with the full link can connect to you. The key at its end, after “#”, never reaches the server.",
            )
          : h(
              "span",
              { class: "hint" },
              "The server that introduces you could read how your browsers connect, and so could listen in. ",
              h("a", { href: newRoom }, "Start an encrypted room"),
            ),
      ),
    );
    byId("link-hint", HTMLElement).hidden = !encrypted;

    this.#switch.checked = loadHideIp(room);
    this.#switch.addEventListener("change", () => {
      saveHideIp(room, this.#switch.checked);
      changed(this.#switch.checked);
    });
  }

  get hideIp(): boolean {
    return this.#switch.checked;
  }

  /** Turns hiding off (from the banner's button), as a flip of the switch would. */
  turnOff(): void {
    this.#switch.checked = false;
    this.#switch.dispatchEvent(new Event("change"));
  }

  /**
   * The deployment has no TURN relay: hiding cannot work. The switch stays
   * usable only while it is on, so that it can be turned off.
   */
  relayUnavailable(): void {
    this.#relayStatus.hidden = false;
    this.#switch.disabled = !this.#switch.checked;
    this.#switch.setAttribute("aria-describedby", "hide-ip-help relay-status");
  }
}
