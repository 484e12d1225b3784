/** Waiting in the benchmarks. */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits for `promise`, or `ms` at most, whichever comes first; never rejects (a rejection ends the
 * wait like a resolution). The timer is cleared either way: a bare `Promise.race` with a sleep
 * leaves it pending, and the process cannot exit until it fires (10 s after every latency run).
 */
export async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      promise.then(
        () => {},
        () => {},
      ),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
