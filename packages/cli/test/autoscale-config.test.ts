import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainGraceMs } from '../src/autoscale/agent-args.js';
import { batonBinPath } from '../src/autoscale/agent-process.js';
import { EXAMPLE_CONFIG, devScalingConfig } from '../src/autoscale/config-path.js';
import { connectedAgentId } from '../src/autoscale/output-lines.js';
import { BIN } from './baton-run.js';
import { configOf } from './autoscale-fakes.js';

describe('autoscale config and helpers', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'baton-autoscale-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--autoscale without --config reads ./baton.yaml; without one, says how to write it', () => {
    expect(devScalingConfig({ autoscale: false })).toBeNull();
    const { message } = thrown(() => devScalingConfig({ autoscale: true }, dir));
    expect(message).toContain(
      `--autoscale needs the pools to scale: give --config FILE, or write ${join(dir, 'baton.yaml')}`,
    );
    expect(message).toContain(EXAMPLE_CONFIG);
    // The example it prints is a valid config.
    writeFileSync(join(dir, 'baton.yaml'), EXAMPLE_CONFIG);
    const found = devScalingConfig({ autoscale: true }, dir);
    expect(found?.path).toBe(join(dir, 'baton.yaml'));
    expect(found?.config.pools.map((p) => [p.name, p.min, p.max, p.slotsPerAgent, p.cooldownSeconds])).toEqual([
      ['burst', 0, 4, 2, 20],
    ]);
  });

  it('docs/baton.autoscale.yaml is a valid config, with the pool the error message shows', () => {
    const example = fileURLToPath(new URL('../../../docs/baton.autoscale.yaml', import.meta.url));
    const docs = devScalingConfig({ config: example, autoscale: true });
    writeFileSync(join(dir, 'printed.yaml'), EXAMPLE_CONFIG);
    const printed = devScalingConfig({ config: 'printed.yaml', autoscale: true }, dir);
    expect(docs?.config.pools).toEqual(printed?.config.pools);
    expect(docs?.config.scaling.syncSeconds).toBe(5);
  });

  it('--config names the file; a bad one fails with its line and field, exit code 2', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'pools:\n  burst:\n    queues: [burst]\n    max: 0\n    slotsPerAgent: 2\n');
    expect(() => devScalingConfig({ config: 'bad.yaml' }, dir)).toThrow(
      /bad\.yaml:4: pools\.burst\.max: max must be at least 1/,
    );
    const err = thrown(() => devScalingConfig({ config: 'missing.yaml', autoscale: true }, dir));
    expect((err as { exitCode?: number }).exitCode).toBe(2);
    expect(err.message).toMatch(/cannot read config .*missing\.yaml: ENOENT/);
  });

  it('agentArgs may not set what the pool sets: the config is refused at its line', () => {
    for (const arg of [
      '--pool',
      '--server=http://x',
      '--name',
      '--queues',
      '--slots',
      '--gpus',
      '--token',
      '--token-file',
    ]) {
      writeFileSync(
        join(dir, 'pool-flag.yaml'),
        `pools:\n  burst:\n    queues: [q]\n    max: 1\n    slotsPerAgent: 1\n    agentArgs: ["--demo", "${arg}"]\n`,
      );
      const err = thrown(() => devScalingConfig({ config: 'pool-flag.yaml' }, dir));
      expect(err.message, arg).toContain(
        `pool-flag.yaml:6: pools.burst.agentArgs.1: ${arg.split('=')[0]} is set from the pool`,
      );
      expect((err as { exitCode?: number }).exitCode).toBe(2);
    }
  });

  it('the shutdown grace follows the longest --drain-grace-ms of the pools', () => {
    const pool = (agentArgs: string[]) => ({ queues: ['q'], max: 1, slotsPerAgent: 1, agentArgs });
    expect(drainGraceMs(configOf({ pools: { a: pool([]) } }))).toBe(30_000);
    expect(drainGraceMs(configOf({ pools: { a: pool(['--drain-grace-ms', '2000']) } }))).toBe(2000);
    expect(
      drainGraceMs(configOf({ pools: { a: pool(['--drain-grace-ms=2000']), b: pool(['--drain-grace-ms', '90000']) } })),
    ).toBe(90_000);
  });

  it('reads the agent id from baton agent’s connected line, and finds the CLI’s own bin', () => {
    expect(
      connectedAgentId(
        'agent autoscale-burst-1 connected to http://127.0.0.1:7070 as ag_12ab: pool burst, 2 slots, GPUs [], tasks demo.sleep',
      ),
    ).toBe('ag_12ab');
    expect(connectedAgentId('agent x connected to http://h as ?: pool p')).toBeNull();
    expect(connectedAgentId('[info] agent connected')).toBeNull();
    expect(batonBinPath()).toBe(BIN);
  });
});

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}
