/** The people list: you first, then every remote peer with a live connection-state pill. */
import type { Peer, SignalingState } from "/mesh.js";
import { byId, h, isolated } from "./dom";
import { avatarClass, displayName, initial } from "./format";

const SELF_STATE_TEXT: Record<SignalingState, string> = {
  connecting: "connecting",
  connected: "connected",
  reconnecting: "reconnecting",
  closed: "offline",
};

export class PeerList {
  readonly #list = byId("peers", HTMLUListElement);
  readonly #count = byId("peer-count", HTMLElement);
  readonly #empty = byId("peers-empty", HTMLElement);
  readonly #self: HTMLLIElement;
  readonly #selfAvatar: HTMLSpanElement;
  readonly #selfPill: HTMLSpanElement;
  readonly #items = new Map<string, HTMLLIElement>();
  /** Peers whose signaling does not open under our key (or ours under theirs): they never connect. */
  readonly #mismatched = new Set<string>();
  #offline = false;

  constructor(selfName: string, onChangeName: () => void) {
    const change = h("button", { type: "button", class: "btn btn-link", id: "change-name" }, "Change name");
    change.addEventListener("click", onChangeName);
    this.#selfPill = h("span", { class: "pill pill-connecting" }, "connecting");
    this.#selfAvatar = h("span", { class: "avatar avatar-0", "aria-hidden": "true" }, initial(selfName));
    this.#self = h(
      "li",
      { class: "peer peer-self" },
      this.#selfAvatar,
      h(
        "span",
        { class: "peer-main" },
        isolated(displayName(selfName), { class: selfName ? "peer-name" : "peer-name is-anonymous" }),
        h("span", { class: "peer-sub" }, h("span", { class: "you-tag" }, "You"), "·", change),
      ),
      this.#selfPill,
    );
    this.#list.replaceChildren(this.#self);
    this.#render();
  }

  /** Our colour is the one the others see: it follows our peer id. */
  setSelfId(id: string | null): void {
    if (id) this.#selfAvatar.className = `avatar ${avatarClass(id)}`;
  }

  setSelfState(state: SignalingState): void {
    this.#selfPill.className = `pill pill-${state}`;
    this.#selfPill.textContent = SELF_STATE_TEXT[state];
    this.#offline = state === "closed";
    this.#render();
  }

  /** Adds a peer or refreshes its state. */
  update(peer: Readonly<Peer>): void {
    let item = this.#items.get(peer.id);
    if (!item) {
      item = h(
        "li",
        { class: "peer", "data-peer-id": peer.id },
        h("span", { class: `avatar ${avatarClass(peer.id)}`, "aria-hidden": "true" }, initial(peer.name)),
        h(
          "span",
          { class: "peer-main" },
          isolated(displayName(peer.name), { class: peer.name ? "peer-name" : "peer-name is-anonymous" }),
        ),
        h("span", { class: "pill" }),
      );
      this.#items.set(peer.id, item);
      this.#list.append(item);
    }
    item.dataset.state = peer.state;
    const pill = item.querySelector(".pill");
    if (pill) {
      pill.className = `pill pill-${peer.state}`;
      pill.textContent = this.#mismatched.has(peer.id) ? "can't connect" : peer.state;
    }
    this.#render();
  }

  /** Marks a peer we cannot connect to because one of us has a link with another key. */
  markMismatch(peer: Readonly<Peer>): void {
    if (this.#mismatched.has(peer.id)) return;
    this.#mismatched.add(peer.id);
    this.update(peer);
    const item = this.#items.get(peer.id);
    if (!item) return;
    item.dataset.mismatch = "";
    item.querySelector(".peer-main")?.append(h("span", { class: "peer-sub peer-problem" }, "Different key"));
  }

  remove(id: string): void {
    this.#items.get(id)?.remove();
    this.#items.delete(id);
    this.#mismatched.delete(id);
    this.#render();
  }

  #render(): void {
    // Once out of the room, nobody is "in" it with us any more.
    this.#count.textContent = this.#offline ? "" : `${this.#items.size + 1} in room`;
    this.#empty.hidden = this.#offline || this.#items.size > 0;
  }
}
