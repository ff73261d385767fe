/** Work that may be asked for far more often than it is worth doing: a display refresh. */
export interface Throttled {
  /** Runs the work now, or once the interval since its last run is over. */
  request(): void;
  /** Drops a run that is waiting. */
  cancel(): void;
}

/**
 * Runs `run` at most once per `intervalMs`. The first request runs at once;
 * requests within the interval after a run collapse into one run at its end,
 * so the last request is never lost and never waits longer than the interval.
 */
export function throttled(run: () => void, intervalMs: number): Throttled {
  let cooling: ReturnType<typeof setTimeout> | undefined;
  let pending = false;
  const cool = () => {
    cooling = setTimeout(() => {
      cooling = undefined;
      if (!pending) return;
      pending = false;
      run();
      cool();
    }, intervalMs);
  };
  return {
    request() {
      if (cooling !== undefined) {
        pending = true;
        return;
      }
      run();
      cool();
    },
    cancel() {
      clearTimeout(cooling);
      cooling = undefined;
      pending = false;
    },
  };
}
