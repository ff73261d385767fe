/**
 * The static ICE servers (STUN) handed to every peer in `welcome`, parsed from
 * the ICE_SERVERS variable (a JSON array of RTCIceServer). Short-lived TURN
 * credentials are issued per peer on top of these: see turn.ts.
 */
import * as v from "valibot";
import { type IceServer, IceServer as IceServerSchema } from "./protocol";

export const DEFAULT_ICE_SERVERS: readonly IceServer[] = [{ urls: "stun:stun.cloudflare.com:3478" }];

const IceServers = v.array(IceServerSchema);

export function parseIceServers(raw: string | undefined): IceServer[] {
  if (raw === undefined || raw.trim() === "") return [...DEFAULT_ICE_SERVERS];
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error("ICE_SERVERS is not valid JSON");
  }
  const result = v.safeParse(IceServers, json);
  if (!result.success) throw new Error(`ICE_SERVERS is not an array of RTCIceServer: ${result.issues[0].message}`);
  return result.output;
}
