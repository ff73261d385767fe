/**
 * The deployment's configuration, read from Worker variables (wrangler.toml
 * [vars], or .dev.vars locally). Every value has a default, and a malformed
 * value fails loudly instead of silently meaning something else.
 */

import { parseIceServers } from "./ice";
import type { IceServer } from "./protocol";

/** The Worker's variables, all optional strings. */
export interface Vars {
  MAX_PEERS?: string;
  RESUME_GRACE_SECONDS?: string;
  ALLOWED_ORIGINS?: string;
  ICE_SERVERS?: string;
  RATE_LIMIT_PER_SECOND?: string;
  RATE_LIMIT_BURST?: string;
}

export interface Env extends Vars {
  ROOM: DurableObjectNamespace;
  ASSETS: Fetcher;
}

export interface Config {
  maxPeers: number;
  resumeGraceMs: number;
  allowedOrigins: ReadonlySet<string>;
  iceServers: IceServer[];
  rate: { perSecond: number; burst: number };
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

function origins(raw: string | undefined): ReadonlySet<string> {
  const list = (raw ?? "")
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
  return new Set(list);
}

export function readConfig(env: Vars): Config {
  return {
    maxPeers: positiveInt("MAX_PEERS", env.MAX_PEERS, 8),
    resumeGraceMs: positiveInt("RESUME_GRACE_SECONDS", env.RESUME_GRACE_SECONDS, 30) * 1000,
    allowedOrigins: origins(env.ALLOWED_ORIGINS),
    iceServers: parseIceServers(env.ICE_SERVERS),
    rate: {
      perSecond: positiveInt("RATE_LIMIT_PER_SECOND", env.RATE_LIMIT_PER_SECOND, 50),
      burst: positiveInt("RATE_LIMIT_BURST", env.RATE_LIMIT_BURST, 200),
    },
  };
}
