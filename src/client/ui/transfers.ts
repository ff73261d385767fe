/** The transfers list: one row per file sent or received, with live progress and the download link. */
import type { Transfer } from "/mesh.js";
import { byId, type Child, h, isolated } from "./dom";
import { formatBytes, percent, visibleFileName } from "./format";
import { throttled } from "./throttle";

interface Row {
  transfer: Transfer;
  item: HTMLLIElement;
  url: string | null;
}

/**
 * How often a row shows a transfer's progress, at most. The library reports
 * every MiB (twenty times a second at 20 MB/s), and each new figure lays the
 * page out again: a person reads one a few times a second at best.
 */
const PROGRESS_INTERVAL_MS = 250;

const STATE_TEXT = {
  sending: { active: "Sending", done: "Sent", cancelled: "Cancelled", failed: "Failed" },
  receiving: { active: "Receiving", done: "Received", cancelled: "Cancelled", failed: "Failed" },
} as const;

export class Transfers {
  readonly #list = byId("transfers", HTMLUListElement);
  readonly #rows = new Set<Row>();

  constructor() {
    // Object URLs live as long as their row, or until the page goes away.
    addEventListener("pagehide", () => {
      for (const row of this.#rows) if (row.url) URL.revokeObjectURL(row.url);
    });
  }

  /** A file we send; `to` describes the receivers ("Ann", "3 people"), names isolated. */
  addOutgoing(transfer: Transfer, to: Child[]): void {
    this.#add(transfer, false, ["to ", ...to]);
  }

  /** A file arriving from the peer named `fromName`. */
  addIncoming(transfer: Transfer, fromName: string): void {
    this.#add(transfer, true, ["from ", isolated(fromName)]);
  }

  /** The verified file behind a finished incoming transfer: offers it as a download. */
  complete(transfer: Transfer, blob: Blob): void {
    const row = [...this.#rows].find((candidate) => candidate.transfer === transfer && candidate.url === null);
    if (!row) return;
    // The library hands out application/octet-stream, whatever the sender declared: the browser saves it, never renders it.
    row.url = URL.createObjectURL(blob);
    const shown = visibleFileName(transfer.name);
    const link = h("a", { class: "btn btn-primary btn-small", href: row.url, download: shown }, "Download");
    link.setAttribute("aria-label", `Download ${shown}`);
    row.item.querySelector(".transfer-actions")?.prepend(link);
  }

  #add(transfer: Transfer, incoming: boolean, peers: Child[]): void {
    const direction = incoming ? "receiving" : "sending";
    const name = visibleFileName(transfer.name);
    const progress = h("progress", {
      max: Math.max(transfer.size, 1),
      value: 0,
      "aria-label": `${name} progress`,
    });
    const state = h("span", { class: "transfer-state" }, STATE_TEXT[direction].active);
    const amount = h("span", { class: "transfer-amount" });
    const cancel = h("button", { type: "button", class: "btn btn-secondary btn-small" }, "Cancel");
    cancel.setAttribute("aria-label", `Cancel ${name}`);
    const actions = h("div", { class: "transfer-actions" }, cancel);
    const item = h(
      "li",
      { class: "transfer", "data-transfer-id": transfer.id, "data-direction": direction, "data-state": transfer.state },
      h("span", { class: "transfer-icon", "aria-hidden": "true" }, incoming ? "↓" : "↑"),
      h(
        "div",
        { class: "transfer-info" },
        h("div", { class: "transfer-name", title: name }, isolated(name)),
        h(
          "div",
          { class: "transfer-meta" },
          state,
          " · ",
          h("span", { class: "transfer-direction" }, ...peers),
          " · ",
          amount,
        ),
      ),
      actions,
      progress,
    );
    const row: Row = { transfer, item, url: null };
    this.#rows.add(row);

    const showProgress = (loaded: number) => {
      progress.value = loaded;
      if (transfer.state === "done") amount.textContent = formatBytes(transfer.size);
      else if (transfer.state === "active") {
        amount.textContent = `${formatBytes(loaded)} of ${formatBytes(transfer.size)} (${percent(loaded, transfer.size)}%)`;
      } else amount.textContent = `${formatBytes(loaded)} of ${formatBytes(transfer.size)}`;
    };
    showProgress(transfer.loaded);

    cancel.addEventListener("click", () => transfer.cancel());
    const refresh = throttled(() => showProgress(transfer.loaded), PROGRESS_INTERVAL_MS);
    transfer.addEventListener("progress", () => refresh.request());
    const end = () => {
      refresh.cancel();
      item.dataset.state = transfer.state;
      state.textContent = STATE_TEXT[direction][transfer.state];
      if (transfer.state === "done") progress.value = Math.max(transfer.size, 1);
      showProgress(transfer.state === "done" ? transfer.size : transfer.loaded);
      const hadFocus = document.activeElement === cancel;
      const remove = h("button", { type: "button", class: "btn btn-secondary btn-small" }, "Remove");
      remove.setAttribute("aria-label", `Remove ${name} from the list`);
      remove.addEventListener("click", () => this.#remove(row));
      cancel.replaceWith(remove);
      if (hadFocus) remove.focus();
    };
    if (transfer.state === "active") transfer.addEventListener("end", end, { once: true });
    else end();
    this.#list.prepend(item);
  }

  #remove(row: Row): void {
    if (row.url) URL.revokeObjectURL(row.url);
    // A received file is stored (on disk, where the browser allows) until released: removed from the list, it goes.
    row.transfer.release();
    this.#rows.delete(row);
    const next = row.item.nextElementSibling ?? row.item.previousElementSibling;
    row.item.remove();
    const focusable = next?.querySelector<HTMLElement>("button, a");
    focusable?.focus();
  }
}
