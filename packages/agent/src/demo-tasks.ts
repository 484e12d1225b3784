import { defineTask } from './task.js';

/**
 * Tasks every `baton dev` registers, so docs, tests and newcomers can rely on them.
 * All are in queue `default`.
 */

/** Waits `ms` (default 1000), reporting progress; returns `{ sleptMs }`. */
export const demoSleep = defineTask('demo.sleep', async (payload: { ms?: number } | null, ctx) => {
  const ms = Math.max(0, Math.min(Number(payload?.ms ?? 1000) || 0, 3_600_000));
  const steps = Math.min(10, Math.max(1, Math.ceil(ms / 100)));
  for (let i = 1; i <= steps; i++) {
    await sleep(ms / steps, ctx.signal);
    ctx.progress((i / steps) * 100);
  }
  return { sleptMs: ms };
});

/** Always throws a retryable error, to show retries with backoff and the dead letter state. */
export const demoFail = defineTask('demo.fail', async (payload: { message?: string } | null) => {
  throw new Error(payload?.message ?? 'demo.fail failed, as it always does');
});

/** Returns its payload at once: the no-op used by the throughput benchmark. */
export const demoEcho = defineTask('demo.echo', async (payload: unknown) => payload);

export const demoTasks = [demoSleep, demoFail, demoEcho] as const;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
