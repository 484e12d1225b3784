import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defineTask } from '@baton/agent';
import type { StepCredential } from '@baton/agent';
import type { Harness } from './harness.js';
import { startHarness } from './harness.js';
import { prng } from './api-fuzz-requests.js';
import type { Rng } from './api-fuzz-requests.js';

const ODD: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  2 ** 53,
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\u202e',
  'x'.repeat(201),
  '__proto__',
  'constructor',
  [],
  {},
  [null],
  { __proto__: { polluted: 1 } },
  'a',
  'b',
];

/** A valid workflow of up to 6 steps (needs only on earlier ones), with a few fields made hostile. */
function workflow(rng: Rng): Record<string, unknown> {
  const n = 1 + rng.int(6);
  const steps: Record<string, unknown>[] = Array.from({ length: n }, (_, i) => ({
    id: `s${i}`,
    task: rng.pick(['demo.echo', 'demo.sleep', 'demo.extract']),
    ...(i > 0 && rng.chance(0.6) && { needs: [`s${rng.int(i)}`] }),
    ...(rng.chance(0.3) && { payload: { ms: 1 } }),
  }));
  const body: Record<string, unknown> = { steps };
  if (rng.chance(0.3)) body.onFailure = rng.pick(['fail-fast', 'continue']);
  for (let m = rng.int(3); m > 0; m--) {
    const where = rng.int(4);
    if (where === 0)
      body[rng.pick(['name', 'onFailure', 'maxSteps', 'idempotencyKey', 'steps', 'extra'])] = rng.pick(ODD);
    else {
      const step = steps[rng.int(steps.length)]!;
      const field = rng.pick([
        'id',
        'task',
        'needs',
        'queue',
        'payload',
        'priority',
        'resources',
        'maxAttempts',
        'delayMs',
      ]);
      step[field] = rng.chance(0.5) ? rng.pick(ODD) : [rng.pick(ODD), `s${rng.int(n + 1)}`];
    }
  }
  return body;
}

/** Hostile workflow bodies: never a 5xx, and a refused one stores nothing. */
describe('workflow submissions under fuzzing', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ agents: 0 });
  });
  afterAll(async () => h.close());

  it('answers every body with 201, 200, 400 or 413, and stores exactly what it said it created', async () => {
    const rng = prng(20261201);
    const statuses = new Map<number, number>();
    const created: string[] = [];
    let steps = 0;
    for (let i = 0; i < 400; i++) {
      const body = workflow(rng);
      const r = await h.post('/api/workflows', body);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect([200, 201, 400, 413], `#${i} ${JSON.stringify(body).slice(0, 300)} → ${JSON.stringify(r.body)}`).toContain(
        r.status,
      );
      if (r.status === 201) {
        created.push(r.body.id);
        steps += r.body.counts.steps;
      }
    }
    expect(statuses.get(201) ?? 0).toBeGreaterThan(50);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(50);
    const listed = (await h.get('/api/workflows?limit=500')).body.workflows.map((w: { id: string }) => w.id);
    expect(listed.sort()).toEqual(created.sort());
    let jobs = 0;
    let cursor: string | null = null;
    do {
      const page: { jobs: unknown[]; nextCursor: string | null } = (
        await h.get(`/api/jobs?limit=500${cursor ? `&cursor=${cursor}` : ''}`)
      ).body;
      jobs += page.jobs.length;
      cursor = page.nextCursor;
    } while (cursor);
    expect(jobs).toBe(steps);
  }, 60_000);
});

/** A fuzzed step with its id and (mostly) its needs prefixed, so good rounds do not clash; others as they are. */
function renamed(step: unknown, prefix: string, rng: Rng): unknown {
  if (typeof step !== 'object' || step === null || Array.isArray(step)) return step;
  const s = step as Record<string, unknown>;
  return {
    ...s,
    ...(typeof s.id === 'string' && { id: prefix + s.id }),
    ...(Array.isArray(s.needs) && {
      needs: s.needs.map((n: unknown) =>
        typeof n === 'string' && rng.chance(0.8) ? prefix + n : rng.pick(['grower', n]),
      ),
    }),
  };
}

/** Hostile growth requests from a step holding its lease: never a 5xx, and a refused one adds nothing. */
describe('growing a workflow under fuzzing', () => {
  let h: Harness;
  let credential: StepCredential | null = null;
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const grower = defineTask('test.grower', async (_p: unknown, ctx) => {
    credential = ctx.workflow!.credential();
    await gate;
    return null;
  });
  beforeAll(async () => {
    h = await startHarness({ agents: 0 });
    // One slot, taken by the grower: the steps it adds stay in the store, where the test counts them.
    await h.addAgent({ tasks: [grower], concurrency: 1 });
  });
  afterAll(async () => {
    release();
    await h.close();
  });

  it('answers 201, 400, 404, 409 or 413, and the workflow holds exactly the steps it said it added', async () => {
    const w = await h.post('/api/workflows', { steps: [{ id: 'grower', task: 'test.grower' }] });
    await vi.waitFor(() => expect(credential).not.toBeNull(), { timeout: 15_000, interval: 10 });
    const { jobId, leaseToken } = credential!;
    const rng = prng(20261202);
    const statuses = new Map<number, number>();
    let added = 0;
    for (let i = 0; i < 300; i++) {
      // The steps of a fuzzed workflow, renamed per round so that good ones do not clash.
      const raw = workflow(rng).steps;
      const steps = Array.isArray(raw) ? raw.map((step: unknown) => renamed(step, `r${i}-`, rng)) : raw;
      const body: Record<string, unknown> = { jobId, leaseToken, steps };
      if (rng.chance(0.15)) body[rng.pick(['jobId', 'leaseToken', 'steps', 'extra'])] = rng.pick(ODD);
      const r = await h.request('POST', `/api/workflows/${w.body.id}/steps`, { body });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect(
        [201, 400, 404, 409, 413],
        `#${i} ${JSON.stringify(body).slice(0, 300)} → ${JSON.stringify(r.body)}`,
      ).toContain(r.status);
      expect(JSON.stringify(r.body)).not.toContain(leaseToken);
      if (r.status === 201) added += r.body.steps.length;
    }
    expect(statuses.get(201) ?? 0).toBeGreaterThan(30);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(30);
    const after = (await h.get(`/api/workflows/${w.body.id}`)).body;
    expect(after.counts.steps).toBe(1 + added);
    let jobs = 0;
    let cursor: string | null = null;
    do {
      const page: { jobs: unknown[]; nextCursor: string | null } = (
        await h.get(`/api/jobs?limit=500${cursor ? `&cursor=${cursor}` : ''}`)
      ).body;
      jobs += page.jobs.length;
      cursor = page.nextCursor;
    } while (cursor);
    expect(jobs).toBe(1 + added);
  }, 60_000);
});
