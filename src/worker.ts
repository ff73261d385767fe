/**
 * The Worker: routes pages, health checks and room sockets. It never touches a
 * WebSocket itself; a valid upgrade goes, raw, to the room's Durable Object,
 * which accepts it as hibernatable.
 *
 * Every refusal is an HttpError thrown by a handler and written as JSON by
 * `onError`, which also turns anything unexpected into a 500 `internal` and
 * one log line; `notFound` answers JSON too.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { routePath } from "hono/route";
import { secureHeaders } from "hono/secure-headers";
import { type Env, readConfig } from "./config";
import { addressKey } from "./limiter";
import { isAllowedOrigin } from "./origin";
import { ROOM_NAME } from "./protocol";

export { JoinLimiter } from "./limiter";
export { Room } from "./room";

type HttpErrorCode = "bad-room" | "upgrade-required" | "bad-origin" | "rate-limited" | "not-found" | "internal";
type HttpErrorStatus = 400 | 403 | 404 | 426 | 429 | 500;

/** A request refused on purpose: `onError` answers it as `{"error":{"code","message"}}`. */
class HttpError extends HTTPException {
  constructor(
    readonly code: HttpErrorCode,
    override readonly status: HttpErrorStatus,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(status, { message });
  }
}

function errorResponse(error: HttpError): Response {
  const body = { error: { code: error.code, message: error.message } };
  return Response.json(body, { status: error.status, headers: error.headers });
}

const BAD_ROOM = "room names are 1–64 characters of A–Z a–z 0–9 _ -";

function requireRoomName(room: string): string {
  if (!ROOM_NAME.test(room)) throw new HttpError("bad-room", 400, BAD_ROOM);
  return room;
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

app.onError((error, c) => {
  if (error instanceof HttpError) return errorResponse(error);
  // The route pattern, never the URL: its query holds resume tokens and names.
  const where = { method: c.req.method, route: routePath(c) };
  console.error(JSON.stringify({ event: "internal-error", ...where, error: error.name, message: error.message }));
  return errorResponse(new HttpError("internal", 500, "the server failed unexpectedly; try again"));
});

app.notFound(() => errorResponse(new HttpError("not-found", 404, "no such page")));

app.get("/healthz", (c) => c.json({ ok: true }));

/**
 * The checks run cheapest first, and the join limit last, so that a request
 * refused for being malformed costs no limiter call and no count.
 */
app.get("/r/:room/ws", async (c) => {
  const room = requireRoomName(c.req.param("room"));
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new HttpError("upgrade-required", 426, "this endpoint speaks WebSocket only");
  }
  const config = readConfig(c.env);
  if (!isAllowedOrigin(c.req.header("Origin"), c.req.url, config.allowedOrigins)) {
    throw new HttpError("bad-origin", 403, "this origin may not open room sockets");
  }
  await limitJoins(c.env, c.req.header("CF-Connecting-IP"), config.joinRatePerIp);
  const stub = c.env.ROOM.get(c.env.ROOM.idFromName(room));
  return stub.fetch(c.req.raw);
});

/** Counts this upgrade against its address (src/limiter.ts); `perMinute` 0 is no limit. */
async function limitJoins(env: Env, ip: string | undefined, perMinute: number): Promise<void> {
  if (perMinute === 0) return;
  const limiter = env.JOIN_LIMITER.get(env.JOIN_LIMITER.idFromName(addressKey(ip)));
  const verdict = await limiter.admit(perMinute);
  if (verdict.ok) return;
  const message = `too many joins from this address: at most ${perMinute} a minute`;
  throw new HttpError("rate-limited", 429, message, { "Retry-After": String(verdict.retryAfterSeconds) });
}

app.get("/", pageHeaders, (c) => asset(c.env, c.req.raw, "/index.html"));

app.get("/r/:room", pageHeaders, (c) => {
  requireRoomName(c.req.param("room"));
  return asset(c.env, c.req.raw, "/room.html");
});

app.get("*", pageHeaders, async (c) => {
  const response = await c.env.ASSETS.fetch(c.req.raw);
  if (response.status === 404) return c.notFound();
  return new Response(response.body, response);
});

export default app satisfies ExportedHandler<Env>;
