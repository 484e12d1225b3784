import { describe, expect, it } from 'vitest';
import { runThroughput } from '../src/throughput.js';

describe('throughput workload', () => {
  it('processes every job exactly once and reports the result fields', async () => {
    const result = await runThroughput({
      store: 'sqlite::memory:',
      jobs: 200,
      concurrency: 10,
      chunkSize: 50,
      timeoutMs: 25_000,
    });
    expect(result).toMatchObject({
      system: 'baton',
      backend: 'sqlite',
      workload: 'throughput',
      jobs: 200,
      concurrency: 10,
      processed: 200,
      duplicates: 0,
      succeeded: 200,
      failed: 0,
      ok: true,
    });
    expect(result.error).toBeUndefined();
    for (const field of [
      'enqueue_per_s',
      'process_per_s',
      'e2e_p50_ms',
      'e2e_p99_ms',
      'pickup_p50_ms',
      'pickup_p99_ms',
      'rss_mb',
      'process_ms',
    ] as const) {
      expect(result[field], field).toBeTypeOf('number');
      expect(result[field] as number, field).toBeGreaterThan(0);
    }
    expect(result.e2e_p99_ms as number).toBeGreaterThanOrEqual(result.e2e_p50_ms as number);
    // One line of JSON, as the CLI prints it.
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it('uses a fresh temp SQLite file by default', async () => {
    const result = await runThroughput({ jobs: 50, concurrency: 5, timeoutMs: 25_000 });
    expect(result).toMatchObject({ backend: 'sqlite', processed: 50, duplicates: 0, succeeded: 50, ok: true });
  });
});
