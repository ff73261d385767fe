// Types `env` from cloudflare:test and cloudflare:workers as the Worker's own bindings.
import type { Env as WorkerEnv } from "../src/config";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}
