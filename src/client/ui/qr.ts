/** The room link as a QR code: one SVG path of dark modules on a light square. */
import { encode } from "uqr";
import { s } from "./dom";

export function renderQr(container: HTMLElement, text: string): void {
  const { data, size } = encode(text, { ecc: "M", border: 2 });
  let d = "";
  data.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) d += `M${x} ${y}h1v1h-1z`;
    });
  });
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${size} ${size}`,
      role: "img",
      "aria-labelledby": "qr-title",
      "shape-rendering": "crispEdges",
      xmlns: "http://www.w3.org/2000/svg",
    },
    s("title", { id: "qr-title" }, `QR code of the room link ${text}`),
    s("rect", { class: "qr-light", width: size, height: size }),
    s("path", { class: "qr-dark", d }),
  );
  container.replaceChildren(svg);
}
