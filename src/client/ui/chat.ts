/** The chat: a log of messages and a composer (Enter sends, Shift+Enter breaks the line). */
import * as v from "valibot";
import { byId, h, isolated } from "./dom";
import { displayName, formatTime } from "./format";

const MAX_TEXT = 4000;
/** Messages kept on the page: a long call, or a flood, must not grow the page without end. */
export const MAX_MESSAGES = 500;

/** The one message shape the room app exchanges over `room.send`; anything else is ignored. */
const ChatMessage = v.object({
  kind: v.literal("chat"),
  text: v.pipe(
    v.string(),
    v.check((text) => text.trim() !== ""),
    v.transform((text) => text.slice(0, MAX_TEXT)),
  ),
});
export type ChatMessage = v.InferOutput<typeof ChatMessage>;

export function asChatMessage(data: unknown): ChatMessage | null {
  const result = v.safeParse(ChatMessage, data);
  return result.success ? result.output : null;
}

export class Chat {
  readonly #log = byId("messages", HTMLOListElement);
  readonly #empty = byId("messages-empty", HTMLElement);
  readonly #form = byId("chat-form", HTMLFormElement);
  readonly #input = byId("chat-input", HTMLTextAreaElement);
  readonly #send = byId("chat-send", HTMLButtonElement);
  readonly #hint = byId("chat-hint", HTMLElement);

  /** `send` returns whether anyone got the message; the text stays in the composer if not. */
  constructor(send: (text: string) => boolean) {
    this.#input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#form.requestSubmit();
      }
    });
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.#input.value.trim();
      if (text === "" || this.#input.disabled) return;
      if (send(text)) {
        this.#input.value = "";
        this.#input.focus();
      }
    });
  }

  /** Enables the composer, or disables it with a hint saying why. */
  setEnabled(enabled: boolean, hint: string): void {
    const hadFocus = document.activeElement === this.#input;
    this.#input.disabled = !enabled;
    this.#send.disabled = !enabled;
    this.#hint.textContent = hint;
    this.#hint.hidden = hint === "";
    if (enabled && (hadFocus || document.activeElement === document.body)) this.#input.focus();
  }

  add(author: { id: string; name: string | null; mine: boolean }, text: string, at = new Date()): void {
    const nearBottom = this.#log.scrollHeight - this.#log.scrollTop - this.#log.clientHeight < 48;
    const item = h(
      "li",
      { class: author.mine ? "message message-mine" : "message", "data-from": author.id },
      h(
        "span",
        { class: "message-meta" },
        isolated(author.mine ? "You" : displayName(author.name), { class: "message-author" }),
        h("time", { class: "message-time", datetime: at.toISOString() }, formatTime(at)),
      ),
      // dir=auto: a message in a right-to-left script reads (and aligns) as one.
      h("p", { class: "message-text", dir: "auto" }, text),
    );
    this.#log.append(item);
    while (this.#log.childElementCount > MAX_MESSAGES) this.#log.firstElementChild?.remove();
    this.#empty.hidden = true;
    if (nearBottom || author.mine) this.#log.scrollTop = this.#log.scrollHeight;
  }
}
