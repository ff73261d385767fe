/**
 * TURN credentials, unit by unit: the REST derivation against vectors computed
 * outside WebCrypto, configuration, and Cloudflare's answers with the global
 * fetch stubbed. The room with TURN on is tested in turn-rest/ and
 * turn-cloudflare/ (their own projects: each needs its own variables); this
 * project has TURN off, which the last block checks end to end.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { readConfig, type Vars } from "../../src/config";
import { cloudflareIceServers, issueIceServers, issueIceServersForEach, restCredential } from "../../src/turn";
import { Peer } from "./peer";

const STUN = { urls: "stun:stun.cloudflare.com:3478" };

afterEach(() => {
  vi.restoreAllMocks();
});

describe("TURN REST credentials", () => {
  it("are base64(HMAC-SHA1(secret, username)), as coturn computes them", async () => {
    // Expected values from node:crypto: createHmac("sha1", secret).update(username).digest("base64").
    expect(await restCredential("north", "1700000000:abc")).toBe("g5HTmCBrPDhYXFpM/1dHUtfE+c4=");
    expect(await restCredential("correct horse battery staple", "1735689600:AAAAAAAAAAAAAAAAAAAAAA")).toBe(
      "bUivSjeI9Svd0c6JXxDmDgzToA0=",
    );
  });

  it("name the peer and an expiry TTL seconds away, after the static servers", async () => {
    const config = readConfig({ TURN_URLS: "turn:turn.example.com:3478", TURN_SECRET: "north" });
    const nowMs = (1_700_000_000 - 3600) * 1000 + 999;
    expect(await issueIceServers(config, "abc", nowMs)).toEqual({
      iceServers: [
        STUN,
        {
          urls: ["turn:turn.example.com:3478"],
          username: "1700000000:abc",
          credential: "g5HTmCBrPDhYXFpM/1dHUtfE+c4=",
        },
      ],
      ttl: 3600,
      issued: true,
    });
  });

  it("are issued per id when a join may become either of two peers", async () => {
    const config = readConfig({ TURN_URLS: "turns:turn.example.com", TURN_SECRET: "north" });
    const issued = await issueIceServersForEach(config, ["resumed", "joined"]);
    expect([...issued.keys()]).toEqual(["resumed", "joined"]);
    expect(issued.get("resumed")?.iceServers[1]?.username).toMatch(/^\d+:resumed$/);
    expect(issued.get("joined")?.iceServers[1]?.username).toMatch(/^\d+:joined$/);
  });
});

describe("TURN configuration", () => {
  const rest: Vars = { TURN_URLS: "turn:a.example.com:3478?transport=udp, turns:[2001:db8::1]:5349", TURN_SECRET: "s" };
  const cloudflare: Vars = { CF_TURN_KEY_ID: "key-1", CF_TURN_API_TOKEN: "token-1" };

  it("is off unless set, and empty means unset", () => {
    expect(readConfig({}).turn).toBeNull();
    expect(readConfig({ TURN_URLS: " ", TURN_SECRET: "", CF_TURN_KEY_ID: "", CF_TURN_API_TOKEN: "" }).turn).toBeNull();
  });

  it("reads either scheme, with a TTL of 3600 s by default", () => {
    expect(readConfig(rest).turn).toEqual({
      kind: "rest",
      urls: ["turn:a.example.com:3478?transport=udp", "turns:[2001:db8::1]:5349"],
      secret: "s",
      ttlSeconds: 3600,
    });
    expect(readConfig({ ...cloudflare, TURN_TTL_SECONDS: "120" }).turn).toEqual({
      kind: "cloudflare",
      keyId: "key-1",
      apiToken: "token-1",
      ttlSeconds: 120,
    });
  });

  it("fails loudly on a malformed TURN_URLS", () => {
    for (const url of [
      "stun:a.example.com",
      "https://a.example.com",
      "turn:",
      "turn:a.example.com:0",
      "turn:a.example.com:65536",
      "turn:user@a.example.com",
      "turn:a.example.com?transport=sctp",
    ]) {
      expect(() => readConfig({ TURN_URLS: url, TURN_SECRET: "s" }), url).toThrow(/TURN_URLS/);
    }
  });

  it("fails loudly on half a scheme, on both schemes, and on a bad TTL, never quoting a secret", () => {
    const cases: [Vars, RegExp][] = [
      [{ TURN_URLS: "turn:a.example.com" }, /TURN_SECRET/],
      [{ TURN_SECRET: "hunter2" }, /TURN_URLS/],
      [{ CF_TURN_KEY_ID: "hunter2" }, /CF_TURN_API_TOKEN/],
      [{ CF_TURN_API_TOKEN: "hunter2" }, /CF_TURN_KEY_ID/],
      [{ CF_TURN_KEY_ID: "hunter2/..", CF_TURN_API_TOKEN: "t" }, /CF_TURN_KEY_ID/],
      [{ ...rest, TURN_SECRET: "hunter2", ...cloudflare }, /one TURN scheme/],
      [{ ...rest, TURN_TTL_SECONDS: "0" }, /TURN_TTL_SECONDS/],
      [{ ...rest, TURN_TTL_SECONDS: "1.5" }, /TURN_TTL_SECONDS/],
      [{ ...rest, TURN_TTL_SECONDS: "172801" }, /TURN_TTL_SECONDS/],
    ];
    for (const [vars, message] of cases) {
      let thrown: unknown;
      try {
        readConfig(vars);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(vars)).toBeInstanceOf(Error);
      expect(String(thrown)).toMatch(message);
      expect(String(thrown)).not.toContain("hunter2");
    }
  });
});

describe("Cloudflare TURN answers", () => {
  const turn = { kind: "cloudflare", keyId: "key-1", apiToken: "token-1", ttlSeconds: 60 } as const;
  const server = { urls: ["turn:turn.cloudflare.com:3478?transport=udp"], username: "u", credential: "c" };

  function answer(status: number, body: string): void {
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response(body, { status }));
  }

  it("may be one RTCIceServer or a list; both pass through, minus unknown fields", async () => {
    answer(201, JSON.stringify({ iceServers: { ...server, extra: 1 } }));
    expect(await cloudflareIceServers(turn)).toEqual([server]);
    answer(201, JSON.stringify({ iceServers: [server, { urls: "stun:stun.cloudflare.com:3478" }] }));
    expect(await cloudflareIceServers(turn)).toEqual([server, { urls: "stun:stun.cloudflare.com:3478" }]);
  });

  it("that are unusable give nothing, with one warning each that names no secret", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const cases: [number, string, string][] = [
      [201, "{not json", "bad JSON"],
      [201, JSON.stringify({ iceServers: [] }), "unexpected answer"],
      [201, JSON.stringify({ iceServers: [{ urls: 3 }] }), "unexpected answer"],
      [201, JSON.stringify({ servers: [server] }), "unexpected answer"],
      [200, JSON.stringify({ iceServers: [server] }), "status 200"],
      [401, "", "status 401"],
    ];
    for (const [status, body, reason] of cases) {
      warn.mockClear();
      answer(status, body);
      expect(await cloudflareIceServers(turn), body).toBeNull();
      expect(warn).toHaveBeenCalledOnce();
      const line = String(warn.mock.calls[0]?.[0]);
      expect(JSON.parse(line)).toMatchObject({ event: "turn-unavailable", provider: "cloudflare" });
      expect(JSON.parse(line).reason).toContain(reason);
      expect(line).not.toMatch(/key-1|token-1/);
    }
  });

  it("that never come (a network error) give nothing but a retry soon, with one warning", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("connection refused to key-1"));
    expect(await issueIceServers(readConfig({ CF_TURN_KEY_ID: "key-1", CF_TURN_API_TOKEN: "t" }), "p")).toEqual({
      iceServers: [STUN],
      ttl: 60,
      issued: false,
    });
    expect(warn).toHaveBeenCalledOnce();
    expect(JSON.parse(String(warn.mock.calls[0]?.[0]))).toEqual({
      event: "turn-unavailable",
      provider: "cloudflare",
      reason: "network error",
      fallback: "stun",
    });
  });
});

describe("without TURN", () => {
  it("welcomes with the static servers and no TTL, and answers renew-ice with them, as often as asked", async () => {
    const fetch = vi.spyOn(globalThis, "fetch");
    const a = await Peer.join(`no-turn-${Date.now().toString(36)}`);
    expect(a.welcome.iceServers).toEqual([STUN]);
    expect(a.welcome).not.toHaveProperty("iceServersTtl");
    a.send({ type: "renew-ice" });
    a.send({ type: "renew-ice" });
    expect(await a.drain()).toEqual([
      { type: "ice-servers", iceServers: [STUN] },
      { type: "ice-servers", iceServers: [STUN] },
    ]);
    expect(a.raw.join("")).not.toContain("iceServersTtl");
    expect(fetch).not.toHaveBeenCalled();
  });
});
