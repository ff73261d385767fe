/**
 * The landing page: create a fresh room or join one by name. It never joins a room itself.
 * A created room is end-to-end encrypted: its key rides in the link's fragment, which no
 * browser sends to a server. A room joined by its typed name has no key.
 */
import type { generateKey } from "/mesh.js";
import { byId } from "./dom";
import { ROOM_NAME, randomRoomName, roomPath } from "./names";

export function startLanding(newKey: typeof generateKey): void {
  byId("create-room", HTMLButtonElement).addEventListener("click", () => {
    location.assign(`${roomPath(randomRoomName())}#${newKey()}`);
  });

  const form = byId("join-form", HTMLFormElement);
  const input = byId("join-name", HTMLInputElement);
  const error = byId("join-error", HTMLElement);

  const showError = (message: string) => {
    error.textContent = message;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "join-help join-error");
    input.focus();
  };
  const clearError = () => {
    error.textContent = "";
    error.hidden = true;
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", "join-help");
  };

  input.addEventListener("input", () => {
    if (!error.hidden) clearError();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (name === "") return showError("Enter the name of the room to join.");
    if (!ROOM_NAME.test(name)) {
      return showError("Room names use only letters, digits, “-” and “_” (up to 64 characters).");
    }
    clearError();
    location.assign(roomPath(name));
  });
}
