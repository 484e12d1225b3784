import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getJson, postJson, startBatonDev, until } from './baton-process.js';
import type { BatonProcess } from './baton-process.js';

/**
 * `baton dev --autoscale` end to end, on the server's own decisions: a burst on a pool at zero
 * starts real `baton agent` processes, they run it, and the pool goes back to zero after the
 * cooldown. (The supervisor's steps one by one, busy agents included, are in
 * packages/cli/test/autoscale-agents.test.ts.)
 */
const CONFIG = `pools:
  burst:
    queues: [burst]
    tasks: [demo.sleep]
    min: 0
    max: 3
    slotsPerAgent: 2
    cooldownSeconds: 2
    agentArgs: ["--demo", "--log-level", "warn"]
scaling:
  syncSeconds: 1
`;

interface AgentJson {
  id: string;
  name: string;
  pool: string;
  state: string;
}

describe('baton dev --autoscale', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-autoscale-burst-'));
  let dev: BatonProcess | null = null;
  afterAll(async () => {
    if (dev && dev.child.exitCode === null) {
      dev.child.kill('SIGINT');
      await dev.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('scales a pool from zero on a burst, runs it, and back to zero after the cooldown', async () => {
    writeFileSync(join(dir, 'baton.yaml'), CONFIG);
    dev = await startBatonDev(['--store', 'sqlite::memory:', '--autoscale', '--config', join(dir, 'baton.yaml')]);
    const d = dev;
    const explain = () => `baton dev output:\n${d.output()}`;
    const agents = async () =>
      ((await getJson(`${d.url}/api/agents`)).agents as AgentJson[]).filter((a) => a.pool === 'burst');
    expect(await agents()).toEqual([]);

    // Accepted with no agent anywhere: the pool declares its task.
    // In one request, so the first decision (woken by the enqueue) sees the whole burst.
    const bulk = await postJson(`${d.url}/api/jobs/bulk`, {
      jobs: Array.from({ length: 12 }, () => ({ task: 'demo.sleep', queue: 'burst', payload: { ms: 300 } })),
    });
    expect(bulk.status, JSON.stringify(bulk.body)).toBe(201);
    const ids = (bulk.body.jobs as { id: string }[]).map((j) => j.id);
    // 12 slots / (2 × 0.8) wants 8; from zero the policy allows 4, and max is 3.
    await until(
      'three agents in pool burst',
      async () => (await agents()).filter((a) => a.state === 'connected').length === 3,
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${explain()}`);
    });
    expect(d.output()).toContain('autoscale: pool burst 0 → 3 agents');
    await until(
      'every job to succeed',
      async () => {
        const states = await Promise.all(ids.map(async (id) => (await getJson(`${d.url}/api/jobs/${id}`)).state));
        return states.every((s) => s === 'succeeded');
      },
      60_000,
    );
    const ran = new Set<string>();
    for (const id of ids) ran.add((await getJson(`${d.url}/api/jobs/${id}`)).agentId as string);
    const names = (await agents()).filter((a) => ran.has(a.id)).map((a) => a.name);
    expect(
      names.every((n) => /^autoscale-burst-\d+$/.test(n)),
      explain(),
    ).toBe(true);

    // Idle: after the 2 s cooldown the pool goes to zero and every agent drains and exits.
    await until('no agent left in pool burst', async () => (await agents()).length === 0, 60_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${explain()}`);
      },
    );
    expect(d.output()).toMatch(
      /autoscale: pool burst 3 → 0 agents \(reason: idle for 2 s \(cooldown\): scale to zero\)/,
    );
    // The next sync (every second) sees them gone.
    const settled = await until('a decision with no agent', async () => {
      const pool = (await getJson(`${d.url}/api/scaling`)).pools[0];
      return pool?.current === 0 && pool;
    });
    expect(settled).toMatchObject({ pool: 'burst', desired: 0, current: 0, load: 0 });

    d.child.kill('SIGINT');
    expect((await d.exited).code, explain()).toBe(0);
  }, 180_000);
});
