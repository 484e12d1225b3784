import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, demoTasks } from '@baton/agent';
import { parseConfigText } from '@baton/server';
import type { Harness } from '../../server/test/harness.js';
import { startHarness } from '../../server/test/harness.js';
import { BATON_METRIC_LABELS, BATON_METRIC_NAMES } from '../src/deploy/metrics.js';

/**
 * The names and labels the rendered alerts, KEDA queries and dashboard use are what a real
 * server serves: a renamed metric or label fails here, not silently in someone's Grafana.
 */
describe('the metrics deploy render relies on', () => {
  let h: Harness;
  let text: string;
  beforeAll(async () => {
    const config = parseConfigText(
      'pools:\n  gpu:\n    queues: [train]\n    tasks: [demo.sleep]\n    max: 2\n    gpusPerAgent: 2\n',
    );
    h = await startHarness({ agents: 0, scalingConfig: config });
    const gpus = [0, 1].map((index) => ({ index, uuid: `GPU-${index}`, name: 't', memoryMb: 1, healthy: true }));
    const agent = new Agent({ link: h.server.localLink(), tasks: demoTasks, pool: 'gpu', queues: ['train'], gpus });
    h.agents.push(agent);
    await agent.start();
    const job = await h.post('/api/jobs', { task: 'demo.sleep', queue: 'train', payload: { ms: 1 } });
    await h.waitFor(job.body.id as string, (j) => j.state === 'succeeded');
    await h.server.scaling.sync();
    text = (await h.request('GET', '/metrics')).body as string;
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(BATON_METRIC_NAMES)('%s is served, with exactly the labels listed', (name) => {
    const type = new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(text)?.[1];
    expect(type, `no # TYPE line for ${name}`).toBeDefined();
    const series = type === 'histogram' ? `${name}_count` : name;
    const samples = text.split('\n').filter((l) => l.startsWith(`${series}{`) || l.startsWith(`${series} `));
    expect(samples.length, `no sample of ${series}`).toBeGreaterThan(0);
    for (const line of samples) {
      const labels = [...(/^[^{ ]*\{([^}]*)\}/.exec(line)?.[1] ?? '').matchAll(/(\w+)="/g)].map((m) => m[1]);
      expect(labels.sort(), line).toEqual([...(BATON_METRIC_LABELS[name] ?? [])].sort());
    }
  });
});
