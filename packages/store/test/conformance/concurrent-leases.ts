import type { JobAssignment, TransitionResult } from '@baton/core';
import type { Store } from '@baton/store';
import { describe, expect, it } from 'vitest';
import type { Fixture } from './fixture.js';
import { LEASE_MS, ref } from './fixture.js';

/** Jobs each test leases; stores that work on them at once; items per call. */
const JOBS = 200;
const STORES = 4;
const BATCH = 50;
const ROUNDS = 5;

/**
 * Lease transitions from several stores at once on the same jobs, as servers sharing one
 * backend run them: a transition may wait for another's, but must then judge the job as that
 * one left it. A current lease is never refused (no NOT_FOUND or STALE_LEASE for a job that
 * exists and is leased), and a lease another call just ended is refused for what ended it.
 */
export function concurrentLeaseTests(f: () => Fixture): void {
  /**
   * The test's store and others opened like it. A backend whose stores do not share data
   * (an in-memory or per-store SQLite file) runs every "store" on the test's own.
   */
  const stores = async (x: Fixture, probeId: string): Promise<Store[]> => {
    const others: Store[] = [];
    for (let i = 1; i < STORES; i++) {
      const other = await x.openWith({});
      others.push((await other.getJob(probeId)) ? other : x.store);
    }
    return [x.store, ...others];
  };

  const batches = <T>(items: readonly T[], size = BATCH): T[][] =>
    Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

  /** Assigns `count` new jobs to one agent. */
  const leased = async (x: Fixture, count = JOBS, maxAttempts = 3): Promise<JobAssignment[]> => {
    const ids = await x.enqueue(count, { maxAttempts });
    const assigned = await x.store.assign(
      ids.map((jobId) => ({ jobId, agentId: 'agent-1', gpus: [] })),
      LEASE_MS,
    );
    expect(assigned).toHaveLength(count);
    return assigned;
  };

  /** Every store heartbeats every lease, ROUNDS times, all its batches at once. */
  const heartbeatAll = async (all: Store[], leases: readonly JobAssignment[]): Promise<TransitionResult[]> => {
    const results: TransitionResult[] = [];
    await Promise.all(
      all.map(async (store, s) => {
        for (let round = 0; round < ROUNDS; round++) {
          const answers = await Promise.all(
            batches(leases).map((batch) =>
              store.heartbeat(
                batch.map((a) => ({ ...ref(a), progress: s * 10 + round })),
                LEASE_MS,
              ),
            ),
          );
          results.push(...answers.flat());
        }
      }),
    );
    return results;
  };

  const codes = (results: readonly TransitionResult[]): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const r of results) {
      const key = r.ok ? 'ok' : r.code;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  };

  describe('concurrent lease transitions', () => {
    it('renews every lease when several stores heartbeat the same jobs at once', async () => {
      const x = f();
      const leases = await leased(x);
      const all = await stores(x, leases[0]!.job.id);
      const results = await heartbeatAll(all, leases);
      expect(codes(results)).toEqual({ ok: STORES * ROUNDS * JOBS });
    });

    it('starts every lease while other stores heartbeat the same jobs', async () => {
      const x = f();
      const leases = await leased(x);
      const [starter, ...others] = await stores(x, leases[0]!.job.id);
      const [started, beats] = await Promise.all([
        Promise.all(batches(leases).map((batch) => starter!.start(batch.map(ref), LEASE_MS))),
        heartbeatAll(others, leases),
      ]);
      expect(codes(started.flat())).toEqual({ ok: JOBS });
      expect(codes(beats)).toEqual({ ok: (STORES - 1) * ROUNDS * JOBS });
      for (const a of leases.slice(0, 10)) expect(await x.state(a.job.id)).toBe('running');
    });

    it('completes every lease while other stores heartbeat it: heartbeats are renewed or told FINISHED', async () => {
      const x = f();
      const leases = await leased(x);
      const [finisher, ...others] = await stores(x, leases[0]!.job.id);
      const [completed, beats] = await Promise.all([
        Promise.all(batches(leases, 10).map((batch) => finisher!.complete(batch.map((a) => x.succeed(a))))),
        heartbeatAll(others, leases),
      ]);
      expect(codes(completed.flat())).toEqual({ ok: JOBS });
      expect(Object.keys(codes(beats)).filter((code) => code !== 'ok' && code !== 'FINISHED')).toEqual([]);
      for (const a of leases.slice(0, 10)) expect(await x.state(a.job.id)).toBe('succeeded');
    });

    it('releases every lease while other stores heartbeat it: heartbeats are renewed or told FINISHED', async () => {
      const x = f();
      // One attempt each, so a released job is final and a late heartbeat hears FINISHED.
      const leases = await leased(x, JOBS, 1);
      const [releaser, ...others] = await stores(x, leases[0]!.job.id);
      const error = { code: 'AGENT_LOST', message: 'agent lost', retryable: true };
      const [released, beats] = await Promise.all([
        Promise.all(batches(leases, 10).map((batch) => releaser!.release(batch.map((a) => ({ ...ref(a), error }))))),
        heartbeatAll(others, leases),
      ]);
      expect(codes(released.flat())).toEqual({ ok: JOBS });
      expect(Object.keys(codes(beats)).filter((code) => code !== 'ok' && code !== 'FINISHED')).toEqual([]);
      for (const a of leases.slice(0, 10)) expect(await x.state(a.job.id)).toBe('failed');
    });

    it('cancels every job while other stores heartbeat it: heartbeats are renewed or told CANCELLED', async () => {
      const x = f();
      const leases = await leased(x);
      const [canceller, ...others] = await stores(x, leases[0]!.job.id);
      const [cancelled, beats] = await Promise.all([
        Promise.all(leases.map((a) => canceller!.cancel(a.job.id))),
        heartbeatAll(others, leases),
      ]);
      expect(cancelled.map((job) => job.state)).toEqual(leases.map(() => 'cancelled'));
      expect(Object.keys(codes(beats)).filter((code) => code !== 'ok' && code !== 'CANCELLED')).toEqual([]);
    });

    it('expires no lease that heartbeats keep renewing, and a lease either expires or is renewed', async () => {
      const x = f();
      const leases = await leased(x);
      const all = await stores(x, leases[0]!.job.id);
      const ours = new Set(leases.map((a) => a.job.id));
      const sweep = async (store: Store): Promise<string[]> => {
        const ended: string[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          const out = await store.expireLeases();
          ended.push(...[...out.requeued, ...out.failed].filter((id) => ours.has(id)));
        }
        return ended;
      };
      // Not due yet: sweeps racing the heartbeats end none of them.
      const [early, beats] = await Promise.all([Promise.all(all.map(sweep)), heartbeatAll(all, leases)]);
      expect(early.flat()).toEqual([]);
      expect(codes(beats)).toEqual({ ok: STORES * ROUNDS * JOBS });
      // Due now: each job is either expired (then every heartbeat is refused) or renewed first.
      x.advance(LEASE_MS + 1);
      const [late, lateBeats] = await Promise.all([Promise.all(all.map(sweep)), heartbeatAll(all, leases)]);
      const expired = new Set(late.flat());
      expect(expired.size).toBe(late.flat().length);
      for (const r of lateBeats) {
        if (expired.has(r.jobId)) expect(r).toMatchObject({ ok: false, code: 'STALE_LEASE' });
        else expect(r).toMatchObject({ ok: true });
      }
    });

    it('assigns each job exactly once when several stores assign the same placements at once', async () => {
      const x = f();
      const ids = await x.enqueue(JOBS);
      const all = await stores(x, ids[0]!);
      const assigned = await Promise.all(
        all.map((store, s) =>
          store.assign(
            ids.map((jobId) => ({ jobId, agentId: `agent-${s}`, gpus: [] })),
            LEASE_MS,
          ),
        ),
      );
      const jobIds = assigned.flat().map((a) => a.job.id);
      expect(jobIds).toHaveLength(JOBS);
      expect(new Set(jobIds)).toEqual(new Set(ids));
    });
  });
}
