import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
