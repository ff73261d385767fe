/**
 * A real `wrangler dev` for end-to-end tests: on 127.0.0.1, a free port, its
 * own state directory, stopped by process group. Start and stop can repeat
 * (a server restart mid-call is a test case).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const START_TIMEOUT_MS = 60_000;
/**
 * Every page and client of a test connects from 127.0.0.1, one address: the
 * per-address join limit (tested in workerd) would throttle a test's many
 * joins, so it is off here unless a test sets it.
 */
const DEFAULT_VARS: Record<string, string> = { JOIN_RATE_PER_IP: "0" };
const STOP_TIMEOUT_MS = 10_000;
const wrangler = fileURLToPath(new URL("../../node_modules/wrangler/bin/wrangler.js", import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

export interface DevServerOptions {
  /** Worker variables to override (`--var`). */
  vars?: Record<string, string>;
  /** Another wrangler configuration (the benchmarks' baseline relay). */
  config?: string;
}

// Plain fields, no parameter properties: the benchmarks run this file with Node's type stripping.
export class DevServer {
  readonly port: number;
  readonly #inspectorPort: number;
  readonly #stateDir: string;
  readonly #options: DevServerOptions;
  #child: ChildProcess | null = null;
  #log = "";

  private constructor(port: number, inspectorPort: number, options: DevServerOptions) {
    this.port = port;
    this.#inspectorPort = inspectorPort;
    this.#stateDir = mkdtempSync(join(tmpdir(), "rdv-"));
    this.#options = options;
  }

  static async start(options: DevServerOptions = {}): Promise<DevServer> {
    const server = new DevServer(await freePort(), await freePort(), options);
    await server.start();
    return server;
  }

  /** The process id of wrangler, leader of the process group that holds workerd. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Everything wrangler printed, for failure messages. */
  get log(): string {
    return this.#log;
  }

  /** Starts wrangler and resolves once it says it is ready. */
  async start(): Promise<void> {
    const args = [
      wrangler,
      "dev",
      "--ip=127.0.0.1",
      `--port=${this.port}`,
      `--inspector-port=${this.#inspectorPort}`,
      `--persist-to=${this.#stateDir}`,
      "--show-interactive-dev-session=false",
      ...(this.#options.config ? [`--config=${this.#options.config}`] : []),
      ...Object.entries({ ...DEFAULT_VARS, ...this.#options.vars }).map(([key, value]) => `--var=${key}:${value}`),
    ];
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`wrangler dev not ready:\n${this.#log}`)), START_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        this.#log += chunk.toString();
        if (this.#log.includes(`Ready on ${this.url}`)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`wrangler dev exited (${code}):\n${this.#log}`));
      });
    });
  }

  /** Stops wrangler and its workerd; resolves once they have exited. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    process.kill(-child.pid, "SIGTERM");
    const timer = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}
