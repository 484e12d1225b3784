import { describe, expect, it } from 'vitest';
// The built module: its producer runs as a child process from the compiled file beside it.
import { runLatency } from '../dist/latency.js';

describe('latency workload', () => {
  it('runs every submitted job once and reports pickup percentiles', async () => {
    const result = await runLatency({ store: 'sqlite::memory:', rate: 200, seconds: 1, warmupMs: 0 });
    expect(result).toMatchObject({
      system: 'baton',
      workload: 'latency',
      jobs: 200,
      processed: 200,
      enqueue_acked: 200,
      ok: true,
    });
    for (const key of ['pickup_p50_ms', 'pickup_p95_ms', 'pickup_p99_ms', 'e2e_p50_ms']) {
      expect(result[key], key).toEqual(expect.any(Number));
      expect(result[key] as number, key).toBeGreaterThanOrEqual(0);
    }
    expect(result.pickup_p50_ms as number).toBeLessThanOrEqual(result.pickup_p99_ms as number);
  });
});
