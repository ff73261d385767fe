/**
 * A real coturn for end-to-end tests (Debian's `turnserver`), on 127.0.0.1
 * only, with the TURN REST shared secret that the Worker signs credentials
 * with. Ready once it answers a STUN binding request; stopped by signal.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./server.ts";

export const TURNSERVER_PATH = process.env.TURNSERVER_PATH ?? "/usr/bin/turnserver";
export const hasCoturn = existsSync(TURNSERVER_PATH);

const READY_WITHIN_MS = 15_000;
const PROBE_EVERY_MS = 100;

// Plain fields, no parameter properties: the benchmarks run this file with Node's type stripping.
export class Coturn {
  readonly port: number;
  readonly secret: string;
  readonly child: ChildProcess;
  #log = "";

  private constructor(port: number, secret: string, child: ChildProcess) {
    this.port = port;
    this.secret = secret;
    this.child = child;
    child.stdout?.on("data", (chunk: Buffer) => {
      this.#log += chunk.toString();
    });
  }

  /** `turn:` URL for the Worker's TURN_URLS. */
  get url(): string {
    return `turn:127.0.0.1:${this.port}?transport=udp`;
  }

  get log(): string {
    return this.#log;
  }

  static async start(): Promise<Coturn> {
    const port = await freePort();
    const secret = randomBytes(16).toString("hex");
    const dir = mkdtempSync(join(tmpdir(), "coturn-"));
    const child = spawn(
      TURNSERVER_PATH,
      [
        "-n",
        "--listening-ip=127.0.0.1",
        `--listening-port=${port}`,
        "--relay-ip=127.0.0.1",
        "--min-port=49160",
        "--max-port=49260",
        "--use-auth-secret",
        `--static-auth-secret=${secret}`,
        "--realm=rendezvous.test",
        "--fingerprint",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--allow-loopback-peers",
        `--db=${join(dir, "turndb.sqlite")}`,
        `--pidfile=${join(dir, "turnserver.pid")}`,
        "--log-file=stdout",
        "--simple-log",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const turn = new Coturn(port, secret, child);
    await turn.#answersStun();
    return turn;
  }

  /** Resolves when coturn answers a STUN binding request on its port. */
  async #answersStun(): Promise<void> {
    const socket = createSocket("udp4");
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0); // Binding request, no attributes
    request.writeUInt32BE(0x2112a442, 4); // magic cookie
    randomBytes(12).copy(request, 8);
    try {
      await new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => {
          clearInterval(probe);
          reject(new Error(`coturn did not answer within ${READY_WITHIN_MS} ms:\n${this.#log}`));
        }, READY_WITHIN_MS);
        const probe = setInterval(() => socket.send(request, this.port, "127.0.0.1"), PROBE_EVERY_MS);
        socket.once("message", () => {
          clearTimeout(deadline);
          clearInterval(probe);
          resolve();
        });
        this.child.once("exit", (code) => reject(new Error(`coturn exited (${code}):\n${this.#log}`)));
      });
    } finally {
      socket.close();
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    await exited;
  }
}
