import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BatonError, HPA_SCALE_DOWN, HPA_SCALE_UP } from '@baton/core';
import { loadConfigFile, parseConfigText } from '../src/scaling/config-file.js';

const valid = `pools:
  burst:
    queues: [burst]
    min: 0
    max: 4
    slotsPerAgent: 2
    targetUtilization: 0.8
    cooldownSeconds: 20
    agentArgs: ["--demo"]
  gpu:
    queues: [train, eval]
    max: 8
    gpusPerAgent: 8
    scaleDown:
      stabilizationWindowSeconds: 60
`;

function problemOf(text: string): string {
  try {
    parseConfigText(text);
  } catch (err) {
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('INVALID_CONFIG');
    return (err as BatonError).message;
  }
  throw new Error('expected the config to be refused');
}

describe('baton.yaml', () => {
  it('fills in defaults and keeps the file order of pools', () => {
    const config = parseConfigText(valid);
    expect(config.pools.map((p) => p.name)).toEqual(['burst', 'gpu']);
    const [burst, gpu] = config.pools;
    expect(burst).toMatchObject({ min: 0, max: 4, slotsPerAgent: 2, cooldownSeconds: 20, agentArgs: ['--demo'] });
    expect(burst?.scaleUp).toEqual(HPA_SCALE_UP);
    expect(burst?.scaleDown).toEqual(HPA_SCALE_DOWN);
    expect(gpu).toMatchObject({ min: 0, gpusPerAgent: 8, targetUtilization: 0.8, cooldownSeconds: 300, agentArgs: [] });
    expect(gpu?.scaleDown).toEqual({ ...HPA_SCALE_DOWN, stabilizationWindowSeconds: 60 });
    expect(config.scaling).toEqual({ syncSeconds: 15, tolerance: 0.1 });
    expect(config.deploy.namespace).toBe('baton');
  });

  it('names the line and the field of each problem, all at once', () => {
    const message = problemOf(
      valid.replace('max: 4', 'max: 0').replace('targetUtilization: 0.8', 'targetUtilization: 2'),
    );
    expect(message).toContain('baton.yaml has 2 problems');
    expect(message).toContain('baton.yaml:5: pools.burst.max: max must be at least 1');
    expect(message).toContain('baton.yaml:7: pools.burst.targetUtilization: targetUtilization is at most 1');
  });

  it('reports a missing field on the line of the object that lacks it', () => {
    const message = problemOf(valid.replace('    max: 8\n', ''));
    expect(message).toContain('baton.yaml:10: pools.gpu.max: max is required');
  });

  it('refuses unknown fields, min above max, a pool without a size and bad pool names', () => {
    expect(problemOf(valid.replace('cooldownSeconds: 20', 'cooldown: 20'))).toContain(
      'baton.yaml:8: pools.burst.cooldown: unknown field',
    );
    expect(problemOf(valid.replace('min: 0', 'min: 5'))).toContain(
      'baton.yaml:4: pools.burst.min: min (5) is above max (4)',
    );
    expect(problemOf(valid.replace('    slotsPerAgent: 2\n', ''))).toContain(
      'baton.yaml:2: pools.burst: a pool needs slotsPerAgent or gpusPerAgent',
    );
    expect(problemOf(valid.replace('  burst:', '  Burst_Pool:'))).toContain('a pool name may hold only lowercase');
    expect(problemOf(valid.replace('queues: [burst]', 'queues: []'))).toContain(
      'pools.burst.queues: queues must name at least one queue',
    );
    expect(problemOf('pools: {}\nextra: 1\n')).toContain('baton.yaml:2: extra: unknown field');
    // A token in agentArgs would sit in clear in every rendered manifest and process list.
    expect(
      problemOf(valid.replace('agentArgs: ["--demo"]', 'agentArgs: ["--demo", "--token=s3cret-s3cret-s3cret"]')),
    ).toContain('baton.yaml:9: pools.burst.agentArgs.1: --token is set from the pool');
  });

  it('refuses YAML that does not parse, with its line, and duplicate keys', () => {
    expect(problemOf('pools:\n  a: [\n')).toMatch(/baton\.yaml is not valid YAML:\nbaton\.yaml:\d+: /);
    expect(problemOf('pools:\n  a:\n    max: 1\n    max: 2\n')).toMatch(/baton\.yaml:4: .*[Uu]nique/);
  });

  it('refuses hostile YAML with a clear error: aliases that expand without bound, nesting deeper than the stack', () => {
    let bomb = 'a: &a [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      bomb += `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${prev}`).join(', ')}]\n`;
    }
    expect(problemOf(bomb)).toMatch(/^baton\.yaml is not a usable config: .*alias/);
    expect(problemOf(`pools: ${'['.repeat(20_000)}${']'.repeat(20_000)}`)).toMatch(
      /^baton\.yaml is not a usable config: it nests too deeply|^baton\.yaml has/,
    );
  });

  it('refuses a file that is missing, and names it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-config-'));
    expect(() => loadConfigFile(join(dir, 'nope.yaml'))).toThrow(/cannot read config .*nope\.yaml: ENOENT/);
    writeFileSync(join(dir, 'baton.yaml'), valid);
    expect(loadConfigFile(join(dir, 'baton.yaml')).pools).toHaveLength(2);
  });
});
