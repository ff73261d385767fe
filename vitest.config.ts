import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** TURN stays off unless a project turns it on, whatever a local .dev.vars says. */
const NO_TURN = { TURN_URLS: "", TURN_SECRET: "", CF_TURN_KEY_ID: "", CF_TURN_API_TOKEN: "" };

/**
 * A project whose tests run inside workerd, against the Worker with these
 * variables; a higher groupOrder runs after the projects with a lower one.
 */
function workerd(name: string, include: string, bindings: Record<string, string>, groupOrder = 0) {
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: { bindings: { ...NO_TURN, ...bindings } },
      }),
    ],
    test: { name, include: [include], sequence: { groupOrder } },
  };
}

export default defineConfig({
  test: {
    projects: [
      // `null` is listed to prove that it is refused anyway. These tests open hundreds of
      // sockets from one (absent) address, so the per-address join limit is off here and
      // has its own project.
      workerd("workerd", "test/workerd/*.test.ts", {
        ALLOWED_ORIGINS: "https://app.example.com,null",
        JOIN_RATE_PER_IP: "0",
      }),
      // One TURN scheme per project: configuring both is refused. They run last, so as not
      // to slow down the timing-sensitive rate-limit tests (abuse.test.ts) on small machines.
      workerd(
        "workerd-turn-rest",
        "test/workerd/turn-rest/*.test.ts",
        {
          TURN_URLS: "turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349?transport=tcp",
          TURN_SECRET: "test-turn-secret",
          TURN_TTL_SECONDS: "600",
          MAX_PEERS: "2",
        },
        1,
      ),
      workerd(
        "workerd-turn-cloudflare",
        "test/workerd/turn-cloudflare/*.test.ts",
        {
          CF_TURN_KEY_ID: "test-key-id",
          CF_TURN_API_TOKEN: "test-api-token",
          TURN_TTL_SECONDS: "600",
          MAX_PEERS: "2",
        },
        1,
      ),
      // Seats per client address, in a room of 3 (the per-address join limit stays off).
      workerd(
        "workerd-per-ip",
        "test/workerd/per-ip/*.test.ts",
        { MAX_PEERS: "3", MAX_PEERS_PER_IP: "2", JOIN_RATE_PER_IP: "0" },
        1,
      ),
      // The per-address join limit at its default (wrangler.toml's 120 a minute).
      workerd("workerd-join-limit", "test/workerd/join-limit/*.test.ts", {}, 1),
      {
        // The browser library's pure parts (the signaling codecs, ICE filters), and the app's refresh throttle, in Node.
        test: { name: "client", include: ["test/client/**/*.test.ts"], environment: "node" },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          // Each file starts its own wrangler dev and browser; two cores run them one at a time.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
