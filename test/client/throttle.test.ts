/** The transfer rows' refresh: at most once per interval, and the last request always shown. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { throttled } from "../../src/client/ui/throttle";

describe("throttled", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs the first request at once and collapses the rest of the interval into one run at its end", () => {
    const run = vi.fn();
    const refresh = throttled(run, 250);
    refresh.request();
    expect(run).toHaveBeenCalledTimes(1);
    // Ten a second, as the library reports a fast transfer, for a second.
    for (let step = 0; step < 10; step += 1) {
      vi.advanceTimersByTime(100);
      refresh.request();
    }
    expect(run).toHaveBeenCalledTimes(5);
    vi.advanceTimersByTime(250);
    expect(run).toHaveBeenCalledTimes(5 + 1);
    vi.advanceTimersByTime(10_000);
    expect(run).toHaveBeenCalledTimes(6);
  });

  it("runs at once again after a quiet interval", () => {
    const run = vi.fn();
    const refresh = throttled(run, 250);
    refresh.request();
    vi.advanceTimersByTime(1_000);
    refresh.request();
    expect(run).toHaveBeenCalledTimes(2);
  });

  it("drops a waiting run when cancelled", () => {
    const run = vi.fn();
    const refresh = throttled(run, 250);
    refresh.request();
    refresh.request();
    refresh.cancel();
    vi.advanceTimersByTime(1_000);
    expect(run).toHaveBeenCalledTimes(1);
  });
});
