import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { newJobId } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { UsageAccountant } from '../src/fairness/usage-accountant.js';

const HALF_LIFE = 3_600_000;

/** Fair share's usage: what owners hold, charged as resource-time by one server of the fleet. */
describe('UsageAccountant', () => {
  let store: Store;
  afterEach(async () => store.close());

  /** A store where `owner` holds one leased job of `gpus` GPUs (or 1 slot when 0). */
  const holding = async (clock: () => number, jobs: { owner: string; gpus: number; slots?: number }[]) => {
    store = await openStore('sqlite::memory:', { clock });
    const ids: string[] = [];
    const enqueued = await store.enqueue(
      jobs.map((j) => {
        const id = newJobId();
        ids.push(id);
        return {
          id,
          queue: 'q',
          task: 't',
          owner: j.owner,
          payload: {},
          priority: 'normal' as const,
          priorityLevel: 0,
          maxAttempts: 1,
          backoffMs: 0,
          timeoutMs: null,
          runAt: clock(),
          idempotencyKey: null,
          resources: { slots: j.slots ?? 1, cpu: 0, memoryMb: 0, gpus: j.gpus },
          constraints: { tags: [] },
          createdAt: clock(),
        };
      }),
    );
    expect(enqueued).toHaveLength(jobs.length);
    await store.assign(
      ids.map((jobId, i) => ({
        jobId,
        agentId: 'agent',
        gpus: Array.from({ length: jobs[i]!.gpus }, (_, g) => g + i * 8),
      })),
      60_000,
    );
  };

  it('charges each owner their held units times the seconds since the last charge', async () => {
    let now = 1_000_000;
    await holding(
      () => now,
      [
        { owner: 'ann', gpus: 2 },
        { owner: 'ben', gpus: 0, slots: 3 },
      ],
    );
    const accountant = new UsageAccountant(store, {
      halfLifeMs: HALF_LIFE,
      intervalMs: 10_000,
      isAccountant: () => true,
      logger: pino({ level: 'silent' }),
      clock: () => now,
    });
    await accountant.charge(); // the first charge only starts the clock
    expect(await store.usage(HALF_LIFE)).toEqual([]);
    now += 10_000;
    await accountant.charge();
    const usage = new Map((await store.usage(HALF_LIFE)).map((u) => [u.owner, u.units]));
    expect(usage.get('ann')).toBeCloseTo(2 * 10, 6);
    expect(usage.get('ben')).toBeCloseTo(3 * 10, 6);
  });

  it('charges at most two intervals at once, and nothing while another server is the accountant', async () => {
    let now = 1_000_000;
    let mine = false;
    await holding(() => now, [{ owner: 'ann', gpus: 1 }]);
    const accountant = new UsageAccountant(store, {
      halfLifeMs: HALF_LIFE,
      intervalMs: 10_000,
      isAccountant: () => mine,
      logger: pino({ level: 'silent' }),
      clock: () => now,
    });
    await accountant.charge();
    now += 50_000;
    await accountant.charge();
    expect(await store.usage(HALF_LIFE)).toEqual([]);
    mine = true;
    await accountant.charge();
    now += 50_000; // a stall: billed as two intervals, not five
    await accountant.charge();
    const [ann] = await store.usage(HALF_LIFE);
    expect(ann?.units).toBeCloseTo(20, 6);
  });
});
