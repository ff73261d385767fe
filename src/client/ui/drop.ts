/** Drag and drop of files onto the drop zone, with a highlight while files hover it. */

function hasFiles(event: DragEvent): boolean {
  return event.dataTransfer?.types.includes("Files") ?? false;
}

/** Calls `drop` with the dropped files; `accepting` says whether they could be sent now. */
export function setUpDropZone(zone: HTMLElement, accepting: () => boolean, drop: (files: File[]) => void): void {
  let depth = 0;
  const reset = () => {
    depth = 0;
    zone.classList.remove("is-dragging", "is-blocked");
  };

  zone.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    zone.classList.add("is-dragging");
    zone.classList.toggle("is-blocked", !accepting());
  });
  zone.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = accepting() ? "copy" : "none";
  });
  zone.addEventListener("dragleave", (event) => {
    if (!hasFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) reset();
  });
  zone.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    reset();
    const files = [...(event.dataTransfer?.files ?? [])];
    if (files.length > 0 && accepting()) drop(files);
  });

  // A file dropped beside the zone must not make the browser navigate away from the room.
  for (const type of ["dragover", "drop"] as const) {
    window.addEventListener(type, (event) => {
      if (hasFiles(event) && !(event.target instanceof Node && zone.contains(event.target))) {
        event.preventDefault();
        if (event.dataTransfer) event.dataTransfer.dropEffect = "none";
      }
    });
  }
  window.addEventListener("dragend", reset);
}
