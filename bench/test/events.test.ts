import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// The built module: it forks its producer and clients from the compiled files beside it and
// runs the built `baton` CLI as the server and agent processes.
import { runEvents } from '../dist/events.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

function bench(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, 'events', ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('events workload', () => {
  it.each([
    [['--clients', 'x'], /--clients must be a non-negative integer, got "x"/],
    [['--clients=-1'], /--clients must be a non-negative integer, got "-1"/],
    [['--rate', '0'], /--rate must be a positive integer, got "0"/],
    [['--marker-rate', '1000', '--seconds', '10'], /at most 5000 markers/],
    [['--store', 'sqlite::memory:'], /not sqlite::memory:/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('refuses %j with exit code 2 and a clear message', (args, message) => {
    const run = bench(...args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('refuses the events flags on another workload', () => {
    const run = spawnSync(process.execPath, [MAIN, 'latency', '--clients', '3'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--clients goes with the events workload/);
  });

  it('streams to a few clients while jobs flow, and every client receives every marker', async () => {
    const result = await runEvents({
      clients: 3,
      rate: 50,
      seconds: 1,
      markerRate: 10,
      warmupS: 0,
      // The baseline phase is the same code without clients; skipped to keep the test short.
      baseline: false,
      timeoutMs: 25_000,
      log: () => {},
    });
    expect(result).toMatchObject({
      system: 'baton',
      backend: 'sqlite',
      workload: 'events',
      clients: 3,
      flow_submitted: 50,
      flow_acked: 50,
      flow_errors: 0,
      markers: 10,
      marker_errors: 0,
      marker_pairs: 30,
      missed: 0,
      clients_closed_early: 0,
      server_cores_baseline: null,
      ok: true,
    });
    for (const key of [
      'achieved_rate',
      'events_per_client',
      'lag_p50_ms',
      'lag_p99_ms',
      'lag_max_ms',
      'lag_from_send_p99_ms',
      'lag_from_created_p99_ms',
      'server_cores',
      'producer_cores',
      'clients_process_cores',
    ]) {
      expect(result[key], key).toEqual(expect.any(Number));
    }
    // Events of a 25 ms window arrive merged (server/src/http/event-fanout.ts), so a client gets
    // fewer messages than jobs; it got one per marker at least (each marker's queue is named in
    // some event, \`missed\` 0 above), and never more than one per job, marker and other change.
    expect(result.events_min_client as number).toBeGreaterThanOrEqual(1);
    expect(result.events_per_client as number).toBeLessThan(200);
    expect(result.lag_p50_ms as number).toBeLessThanOrEqual(result.lag_p99_ms as number);
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });
});
