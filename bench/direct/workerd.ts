/**
 * The same Worker without `wrangler dev`: its deploy bundle (`wrangler deploy
 * --dry-run`), run by the `workerd` binary that wrangler itself runs, from a
 * Cap'n Proto config written here. One process, no proxy worker in front, no
 * dev middleware, no inspector. Its bindings come from wrangler.toml (vars,
 * Durable Objects, SQLite-backed as its migrations declare, and the assets
 * directory, served by a tiny assets worker over a read-only disk service).
 * Listens on 127.0.0.1 only; start and stop are bounded; stopped by process
 * group; its temporary directory is removed on stop.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../test/e2e/server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
/** The binary `wrangler dev` runs (wrangler's own workerd dependency), so the two differ only in what wraps it. */
const WORKERD = join(ROOT, "node_modules/wrangler/node_modules/workerd/bin/workerd");
const BUNDLE_TIMEOUT_MS = 120_000;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface DirectServer {
  url: string;
  pid: number;
  /** What was run, for the report. */
  commands: string[];
  /** The Cap'n Proto config, as written. */
  config: string;
  log(): string;
  stop(): Promise<void>;
}

/** The part of wrangler's configuration this needs. */
interface WranglerConfig {
  name: string;
  compatibility_date?: string;
  compatibility_flags: string[];
  vars?: Record<string, unknown>;
  durable_objects: { bindings: { name: string; class_name: string; script_name?: string }[] };
  migrations: { new_sqlite_classes?: string[]; new_classes?: string[] }[];
  assets?: { directory?: string; binding?: string };
}

/** Content types for what public/ holds; anything else is octet-stream. */
const ASSETS_WORKER = `const TYPES = {
  ".js": "text/javascript; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".map": "application/json",
};
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") return new Response(null, { status: 405 });
    const dot = pathname.lastIndexOf(".");
    if (pathname.endsWith("/") || dot < pathname.lastIndexOf("/")) return new Response(null, { status: 404 });
    const file = await env.DISK.fetch(new URL(pathname, "http://disk/"), { method: request.method });
    if (!file.ok) return new Response(null, { status: 404 });
    const type = TYPES[pathname.slice(dot)] ?? "application/octet-stream";
    return new Response(file.body, { headers: { "content-type": type } });
  },
};
`;

/** A Cap'n Proto text literal (only printable ASCII is expected here). */
function text(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new Error(`not printable ASCII: ${value}`);
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(output);
      else reject(new Error(`${command} ${args.join(" ")} failed (${code}):\n${output}`));
    });
  });
}

function capnpConfig(config: WranglerConfig, vars: Record<string, string>, dir: string, port: number): string {
  const sqliteClasses = new Set(config.migrations.flatMap((m) => m.new_sqlite_classes ?? []));
  const objects = config.durable_objects.bindings;
  for (const binding of objects) {
    if (binding.script_name) throw new Error(`${binding.name}: Durable Objects of another script are not supported`);
    if (!sqliteClasses.has(binding.class_name)) throw new Error(`${binding.class_name} is not SQLite-backed`);
  }
  const classes = [...new Set(objects.map((binding) => binding.class_name))];
  const assets = config.assets?.binding ? config.assets.directory : undefined;
  const bindings = [
    ...objects.map((b) => `(name = ${text(b.name)}, durableObjectNamespace = (className = ${text(b.class_name)}))`),
    ...(assets ? [`(name = ${text(config.assets?.binding ?? "")}, service = "assets")`] : []),
    ...Object.entries(vars).map(([name, value]) => `(name = ${text(name)}, text = ${text(value)})`),
  ];
  const date = text(config.compatibility_date ?? "");
  const flags = config.compatibility_flags.map(text).join(", ");
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .main),${
      assets
        ? `
    (name = "assets", worker = .assets),
    (name = "public", disk = (path = ${text(resolve(ROOT, assets))}, writable = false)),`
        : ""
    }
    (name = "objects", disk = (path = ${text(join(dir, "objects"))}, writable = true)),
  ],
  sockets = [(name = "http", address = ${text(`127.0.0.1:${port}`)}, http = (), service = "main")],
);

const main :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "bundle/worker.js")],
  compatibilityDate = ${date},
  compatibilityFlags = [${flags}],
  bindings = [
    ${bindings.join(",\n    ")}
  ],
  durableObjectNamespaces = [
    ${classes.map((c) => `(className = ${text(c)}, uniqueKey = ${text(`${config.name}-${c}`)}, enableSql = true)`).join(",\n    ")}
  ],
  durableObjectStorage = (localDisk = "objects"),
);

const assets :Workerd.Worker = (
  modules = [(name = "assets.js", esModule = embed "assets.js")],
  compatibilityDate = ${date},
  bindings = [(name = "DISK", service = "public")],
);
`;
}

async function waitUntilUp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode}):\n${log().slice(-2_000)}`);
    try {
      // Any answer will do: it is listening, with the Worker loaded (the relay has no health check).
      await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      return;
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`workerd not up within ${START_TIMEOUT_MS} ms:\n${log().slice(-2_000)}`);
}

/**
 * Bundles a Worker as `wrangler deploy` would and runs it in workerd alone, with `vars` over its configuration's.
 * `config`: its wrangler configuration, relative to the repository (default: the project's own).
 */
export async function startDirectWorkerd(
  options: { vars?: Record<string, string>; config?: string } = {},
): Promise<DirectServer> {
  const dir = mkdtempSync(join(tmpdir(), "rdv-direct-"));
  const configFile = options.config ?? "wrangler.toml";
  const bundleArgs = [WRANGLER, "deploy", "--dry-run", `--config=${configFile}`, `--outdir=${join(dir, "bundle")}`];
  await run(process.execPath, bundleArgs, BUNDLE_TIMEOUT_MS);
  const { unstable_readConfig } = await import("wrangler");
  const config = unstable_readConfig({ config: join(ROOT, configFile) }) as unknown as WranglerConfig;
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(config.vars ?? {})) {
    vars[name] = typeof value === "string" ? value : JSON.stringify(value);
  }
  Object.assign(vars, options.vars);
  const port = await freePort();
  const capnp = capnpConfig(config, vars, dir, port);
  mkdirSync(join(dir, "objects"));
  writeFileSync(join(dir, "assets.js"), ASSETS_WORKER);
  writeFileSync(join(dir, "config.capnp"), capnp);
  const serveArgs = ["serve", join(dir, "config.capnp")];
  const child = spawn(WORKERD, serveArgs, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.pid && child.exitCode === null) {
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      process.kill(-child.pid, "SIGTERM");
      const timer = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilUp(url, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  if (!child.pid) throw new Error("workerd has no pid");
  const relative = (path: string) => path.replace(ROOT, "").replace(dir, "$DIR");
  return {
    url,
    pid: child.pid,
    commands: [["node", ...bundleArgs].map(relative).join(" "), [WORKERD, ...serveArgs].map(relative).join(" ")],
    config: capnp.replaceAll(dir, "$DIR").replaceAll(ROOT, ""),
    log: () => output,
    stop,
  };
}
