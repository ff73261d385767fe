/**
 * The Worker: routes pages, health checks and room sockets. It never touches a
 * WebSocket itself; a valid upgrade goes, raw, to the room's Durable Object,
 * which accepts it as hibernatable.
 */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { type Env, readConfig } from "./config";
import { isAllowedOrigin } from "./origin";
import { ROOM_NAME } from "./protocol";

export { Room } from "./room";

type HttpErrorCode = "bad-room" | "upgrade-required" | "bad-origin" | "not-found";

function httpError(code: HttpErrorCode, message: string, status: 400 | 403 | 404 | 426): Response {
  return Response.json({ error: { code, message } }, { status });
}

/** Pages may load only their own origin's resources and never leak the room URL as a referrer. */
const pageHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    frameAncestors: ["'none'"],
    formAction: ["'self'"],
  },
  referrerPolicy: "no-referrer",
  xFrameOptions: "DENY",
  crossOriginEmbedderPolicy: false,
});

/** Serves one file from public/ (copied, so headers can be added). */
async function asset(env: Env, request: Request, path: string): Promise<Response> {
  const response = await env.ASSETS.fetch(new URL(path, request.url));
  return new Response(response.body, response);
}

const app = new Hono<{ Bindings: Env }>();

app.get("/healthz", (c) => c.json({ ok: true }));

app.get("/r/:room/ws", (c) => {
  const room = c.req.param("room");
  if (!ROOM_NAME.test(room)) return httpError("bad-room", "room names are 1–64 characters of A–Z a–z 0–9 _ -", 400);
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    return httpError("upgrade-required", "this endpoint speaks WebSocket only", 426);
  }
  const config = readConfig(c.env);
  if (!isAllowedOrigin(c.req.header("Origin"), c.req.url, config.allowedOrigins)) {
    return httpError("bad-origin", "this origin may not open room sockets", 403);
  }
  const stub = c.env.ROOM.get(c.env.ROOM.idFromName(room));
  return stub.fetch(c.req.raw);
});

app.get("/", pageHeaders, (c) => asset(c.env, c.req.raw, "/index.html"));

app.get("/r/:room", pageHeaders, (c) => {
  if (!ROOM_NAME.test(c.req.param("room"))) {
    return httpError("bad-room", "room names are 1–64 characters of A–Z a–z 0–9 _ -", 400);
  }
  return asset(c.env, c.req.raw, "/room.html");
});

app.get("*", pageHeaders, async (c) => {
  const response = await c.env.ASSETS.fetch(c.req.raw);
  if (response.status === 404) return httpError("not-found", "no such page", 404);
  return new Response(response.body, response);
});

export default app satisfies ExportedHandler<Env>;
