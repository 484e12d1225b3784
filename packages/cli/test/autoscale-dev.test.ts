import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatonDev } from '../../../test/baton-process.js';
import { BIN, runBaton } from './baton-run.js';

/** `baton dev --autoscale` as a user starts it. */
describe('baton dev --autoscale', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'baton-autoscale-dev-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('without --config and without ./baton.yaml, says how to write one (exit 2)', async () => {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [BIN, 'dev', '--store', 'sqlite::memory:', '--port', '0', '--autoscale'],
        { cwd: dir, timeout: 20_000, env: { ...process.env, BATON_CONFIG_DIR: dir } },
        (err, stdout, stderr) => resolve({ code: (err as { code?: number } | null)?.code ?? 0, stdout, stderr }),
      );
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('baton: --autoscale needs the pools to scale: give --config FILE, or write');
    expect(r.stderr).toContain('slotsPerAgent: 2');
    expect(r.stdout).not.toMatch(/listening on/);
  });

  it('a bad config fails before anything starts, naming line and field', async () => {
    writeFileSync(
      join(dir, 'bad.yaml'),
      'pools:\n  burst:\n    queues: [burst]\n    max: 4\n    slotsPerAgent: 2\n    colldown: 3\n',
    );
    const r = await runBaton(
      ['dev', '--store', 'sqlite::memory:', '--port', '0', '--autoscale', '--config', join(dir, 'bad.yaml')],
      { BATON_CONFIG_DIR: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:6: pools\.burst\.colldown: unknown field/);
  });

  it('starts with the pools of --config and no in-process agents, and stops cleanly on SIGINT', async () => {
    const config = join(dir, 'baton.yaml');
    writeFileSync(
      config,
      'pools:\n  burst:\n    queues: [burst]\n    min: 0\n    max: 4\n    slotsPerAgent: 2\n    cooldownSeconds: 20\n    agentArgs: ["--demo"]\n',
    );
    const dev = await startBatonDev(['--store', 'sqlite::memory:', '--autoscale', '--config', config]);
    try {
      expect(dev.output()).toContain('local:  0 in-process agent(s)');
      expect(dev.output()).toContain(`pools:  burst (0–4) from ${config}; autoscaled here`);
    } finally {
      dev.child.kill('SIGINT');
    }
    expect(await dev.exited).toEqual({ code: 0, signal: null });
  });
});
