import { performance } from 'node:perf_hooks';
import { BatonClient } from '@baton/client';
import { sleep } from './waits.js';

/**
 * The latency workload's producer, in its own process as the peers' is: submits single jobs
 * at `rate`/s for `seconds` to the server at `url`, each stamped with the time it is sent,
 * then reports to the parent how many were acknowledged and when each was sent (so that a job
 * that never runs still counts in the percentiles, from its send to the run's end).
 */
const [url, rateText, secondsText, task] = process.argv.slice(2);
const rate = Number(rateText);
const seconds = Number(secondsText);
const nowMs = (): number => performance.timeOrigin + performance.now();

async function produce(): Promise<{ acked: number; errors: number; firstError: string | null; sent: number[] }> {
  // The token comes in the environment, not the arguments: it stays out of the process list.
  const client = new BatonClient({ baseUrl: url, token: process.env.BATON_TOKEN });
  const total = Math.round(rate * seconds);
  const intervalMs = 1000 / rate;
  const acks: Promise<unknown>[] = [];
  const sent: number[] = new Array<number>(total).fill(0);
  let acked = 0;
  let errors = 0;
  let firstError: string | null = null;
  const t0 = nowMs() + 20;
  for (let issued = 0; issued < total; ) {
    const due = t0 + issued * intervalMs;
    const now = nowMs();
    if (due > now) {
      // Timers have ~1 ms granularity: each wake-up issues the submissions that became due.
      await sleep(Math.max(1, Math.floor(due - now)));
      continue;
    }
    const i = issued++;
    const t = nowMs();
    sent[i] = t;
    acks.push(
      client.submit(task ?? 'bench.latency', { i, t }).then(
        () => acked++,
        (err: unknown) => {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        },
      ),
    );
  }
  await Promise.all(acks);
  return { acked, errors, firstError, sent };
}

produce().then(
  (summary) => process.send?.(summary),
  (err: unknown) => process.send?.({ acked: 0, errors: 1, firstError: String(err), sent: [] }),
);
