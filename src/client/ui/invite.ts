/** The invite card: the room link, a copy button and a QR code for phones. */
import { byId } from "./dom";
import { renderQr } from "./qr";

const FEEDBACK_MS = 2000;

export function setUpInvite(url: string): void {
  const input = byId("room-link", HTMLInputElement);
  const button = byId("copy-link", HTMLButtonElement);
  const status = byId("copy-status", HTMLElement);
  input.value = url;
  input.addEventListener("focus", () => input.select());

  let timer: ReturnType<typeof setTimeout> | undefined;
  button.addEventListener("click", async () => {
    const copied = (await writeClipboard(url)) || selectAndCopy(input);
    clearTimeout(timer);
    button.textContent = copied ? "Copied" : "Copy link";
    button.classList.toggle("is-done", copied);
    status.textContent = copied ? "Room link copied to the clipboard" : "Link selected: press Ctrl+C or ⌘C to copy it";
    if (!copied) input.focus();
    timer = setTimeout(() => {
      button.textContent = "Copy link";
      button.classList.remove("is-done");
      status.textContent = "";
    }, FEEDBACK_MS);
  });

  try {
    renderQr(byId("qr", HTMLElement), url);
  } catch {
    byId("qr", HTMLElement).closest("figure")?.setAttribute("hidden", "");
  }
}

async function writeClipboard(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** The fallback: select the link so the user can copy it, and try the legacy copy command. */
function selectAndCopy(input: HTMLInputElement): boolean {
  input.focus();
  input.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}
