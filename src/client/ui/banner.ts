/** The status banner: one message at a time, styled info, warning or error. */
import { byId, type Child, h } from "./dom";

export type BannerTone = "info" | "warning" | "error";
export interface BannerAction {
  label: string;
  /** A link when given, else a button calling `run`. */
  href?: string;
  run?: () => void;
}

export class Banner {
  readonly #element = byId("banner", HTMLElement);
  #key: string | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Shows a message (names in it isolated, see `isolated`); `key` lets a later `clear(key)` remove only this one. */
  show(
    key: string,
    tone: BannerTone,
    text: string | Child[],
    options: { actions?: BannerAction[]; busy?: boolean; timeoutMs?: number } = {},
  ): void {
    clearTimeout(this.#timer);
    this.#key = key;
    const element = this.#element;
    element.className = `banner banner-${tone}${options.busy ? " is-busy" : ""}`;
    const actions = (options.actions ?? []).map((action) =>
      action.href !== undefined
        ? h("a", { href: action.href }, action.label)
        : h("button", { type: "button", class: "btn btn-link" }, action.label),
    );
    actions.forEach((node, index) => {
      const run = options.actions?.[index]?.run;
      if (run && node instanceof HTMLButtonElement) node.addEventListener("click", run);
    });
    element.replaceChildren(
      h(
        "span",
        { class: "banner-text" },
        ...(typeof text === "string" ? [text] : text),
        actions.length > 0 && h("span", { class: "banner-actions" }, ...actions),
      ),
    );
    element.hidden = false;
    if (options.timeoutMs) this.#timer = setTimeout(() => this.clear(key), options.timeoutMs);
  }

  get key(): string | null {
    return this.#key;
  }

  /** Hides the banner, or only the message shown under `key`. */
  clear(key?: string): void {
    if (key !== undefined && key !== this.#key) return;
    clearTimeout(this.#timer);
    this.#key = null;
    this.#element.hidden = true;
    this.#element.replaceChildren();
    this.#element.className = "banner";
  }
}
