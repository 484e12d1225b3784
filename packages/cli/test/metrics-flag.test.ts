import { afterEach, describe, expect, it } from 'vitest';
import type { BatonProcess } from '../../../test/baton-process.js';
import { startBatonListening } from '../../../test/baton-process.js';
import { metricsOf } from '../src/serve.js';
import { runBaton } from './baton-run.js';

describe('--no-metrics and BATON_METRICS', () => {
  const started: BatonProcess[] = [];
  afterEach(async () => {
    for (const p of started.splice(0)) {
      p.child.kill('SIGINT');
      await p.exited;
    }
  });

  it('serves /metrics unless the flag or BATON_METRICS says not to', () => {
    expect(metricsOf({}, {})).toBe(true);
    expect(metricsOf({ metrics: true }, { BATON_METRICS: '' })).toBe(true);
    for (const on of ['true', '1']) expect(metricsOf({}, { BATON_METRICS: on })).toBe(true);
    for (const off of ['false', '0']) expect(metricsOf({}, { BATON_METRICS: off })).toBe(false);
    // The flag wins over the environment.
    expect(metricsOf({ metrics: false }, { BATON_METRICS: 'true' })).toBe(false);
    for (const bad of ['yes', 'off', 'TRUE ', '2']) {
      expect(() => metricsOf({}, { BATON_METRICS: bad })).toThrow(/^BATON_METRICS must be true, false, 1 or 0/);
    }
  });

  it('a server with a bad BATON_METRICS does not start, and says why', async () => {
    const r = await runBaton(['server', '--store', 'sqlite::memory:', '--port', '0', '--insecure-no-auth'], {
      BATON_METRICS: 'maybe',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('baton: BATON_METRICS must be true, false, 1 or 0 (got "maybe")\n');
    expect(r.stdout).not.toMatch(/listening on/);
  });

  it('baton server --no-metrics and baton dev with BATON_METRICS=0 answer /metrics with 404; by default 200', async () => {
    const off = await startBatonListening('server', [
      '--store',
      'sqlite::memory:',
      '--insecure-no-auth',
      '--no-metrics',
    ]);
    started.push(off);
    expect((await fetch(`${off.url}/metrics`)).status).toBe(404);
    const devOff = await startBatonListening('dev', ['--store', 'sqlite::memory:'], 20_000, {
      env: { BATON_METRICS: '0' },
    });
    started.push(devOff);
    expect((await fetch(`${devOff.url}/metrics`)).status).toBe(404);
    const on = await startBatonListening('server', ['--store', 'sqlite::memory:', '--insecure-no-auth']);
    started.push(on);
    const r = await fetch(`${on.url}/metrics`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('# TYPE baton_jobs_pending gauge');
  });
});
