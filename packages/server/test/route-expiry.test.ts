import { afterEach, describe, expect, it } from 'vitest';
import { defineTask } from '@baton/agent';
import type { Harness } from './harness.js';
import { startHarness } from './harness.js';

/**
 * Task routes live for the route TTL unless their agent's server renews them: while the agent
 * stays, submissions of its task are accepted however long it stays; once it left, they are
 * refused again (400 UNKNOWN_TASK) within about the TTL. A short TTL here; 5 minutes by default.
 */
const ROUTE_TTL_MS = 600;
const task = defineTask('expiry.task', async () => ({ ok: true }));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(['local', 'ws'] as const)('task routes with a %s agent', (link) => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  const submit = () => h.post('/api/jobs', { task: 'expiry.task' });

  it('stay live while the agent stays, and lapse once it left', async () => {
    h = await startHarness({ agents: 0, link, routeTtlMs: ROUTE_TTL_MS });
    const agent = await h.addAgent({ tasks: [task] });
    expect((await submit()).status).toBe(201);
    const [route] = (await h.store.taskRoutes()).filter((r) => r.task === 'expiry.task');
    expect(route?.expiresAt).toBeGreaterThan(Date.now());

    // Several TTLs on, the route is still live: the server renewed it, and every submission
    // meanwhile was accepted.
    const statuses = new Set<number>();
    const renewed = await until('the route renewed past several TTLs', async () => {
      statuses.add((await submit()).status);
      const [now] = (await h.store.taskRoutes()).filter((r) => r.task === 'expiry.task');
      return now && now.expiresAt! > route!.expiresAt! + 3 * ROUTE_TTL_MS ? now : undefined;
    });
    expect(renewed.expiresAt).toBeGreaterThan(Date.now());
    expect([...statuses]).toEqual([201]);

    const leftAt = Date.now();
    await agent.stop(1000);
    const refused = await until('submissions refused', async () => {
      const answer = await submit();
      return answer.status === 201 ? undefined : answer;
    });
    expect(refused).toMatchObject({ status: 400, body: { error: { code: 'UNKNOWN_TASK' } } });
    // Refused once the TTL ran out since the last renewal, no sooner than a third of it after leaving.
    expect(Date.now() - leftAt).toBeGreaterThanOrEqual(ROUTE_TTL_MS / 3);
    expect((await h.store.taskRoutes()).some((r) => r.task === 'expiry.task')).toBe(false);
  });
});
