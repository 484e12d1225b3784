import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { GENERATED_MARK } from '../src/deploy/rendered-file.js';
import { writeRendered } from '../src/deploy/write-output.js';
import { runBaton } from './baton-run.js';
import { EXAMPLE_CONFIG_PATH } from './deploy-fixtures.js';

const temp = mkdtempSync(join(tmpdir(), 'baton-deploy-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));
let n = 0;
const outDir = () => join(temp, `out-${n++}`);

function allText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

describe('baton deploy render', () => {
  it('writes the k8s manifests of a config and says which', async () => {
    const out = outDir();
    const run = await runBaton(['deploy', 'render', '--target', 'k8s', '--config', EXAMPLE_CONFIG_PATH, '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const files = [
      '00-namespace.yaml',
      '10-server.yaml',
      '20-agent-burst.yaml',
      '20-agent-gpu.yaml',
      '30-monitoring.yaml',
    ];
    expect(run.stdout).toBe(`wrote 5 file(s) to ${out}: ${files.join(', ')}\n`);
    expect(readdirSync(out).sort()).toEqual(files);
    const kinds = parseAllDocuments(readFileSync(join(out, '20-agent-gpu.yaml'), 'utf8')).map((d) => d.toJS().kind);
    expect(kinds).toEqual(['Deployment', 'ScaledObject']);
  });

  it('renders the default pool without --config, and --prometheus reaches the ScaledObjects', async () => {
    const out = outDir();
    const run = await runBaton(['deploy', 'render', '--target', 'k8s', '--out', out, '--prometheus', 'http://p:9090']);
    expect(run.code).toBe(0);
    const agent = parseAllDocuments(readFileSync(join(out, '20-agent-default.yaml'), 'utf8')).map((d) => d.toJS());
    expect(agent[0].spec.replicas).toBe(1);
    expect(agent[1].spec).toMatchObject({ minReplicaCount: 1, maxReplicaCount: 10 });
    expect(agent[1].spec.triggers[0].metadata.serverAddress).toBe('http://p:9090');
  });

  it('writes a chart for --target helm and a compose file for --target compose', async () => {
    const helm = outDir();
    expect((await runBaton(['deploy', 'render', '--target', 'helm', '--out', helm])).code).toBe(0);
    expect(readdirSync(helm).sort()).toEqual(['Chart.yaml', 'templates', 'values.yaml']);
    const compose = outDir();
    expect((await runBaton(['deploy', 'render', '--target', 'compose', '--out', compose])).code).toBe(0);
    expect(readdirSync(compose).sort()).toEqual(['baton-config.yaml', 'docker-compose.yml']);
  });

  it('a bad --target, or none, is a usage error (exit 2)', async () => {
    const out = outDir();
    const bad = await runBaton(['deploy', 'render', '--target', 'swarm', '--out', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('baton: --target must be one of k8s, helm, compose, got "swarm"\n');
    expect(existsSync(out)).toBe(false);
    const missing = await runBaton(['deploy', 'render', '--out', out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--target <target>' not specified");
  });

  it('a bad config is a usage error (exit 2) naming the file, line and field; nothing is written', async () => {
    const path = join(temp, 'bad.yaml');
    writeFileSync(path, 'pools:\n  burst:\n    queues: [default]\n    max: 0\n    slotsPerAgent: 1\n');
    const out = outDir();
    const run = await runBaton(['deploy', 'render', '--target', 'k8s', '--config', path, '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`baton: ${path} has 1 problem:\n${path}:4: pools.burst.max: max must be at least 1\n`);
    expect(existsSync(out)).toBe(false);
    const missing = await runBaton([
      'deploy',
      'render',
      '--target',
      'k8s',
      '--config',
      join(temp, 'none.yaml'),
      '--out',
      out,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read config');
  });

  it('warns about a pool whose agents have nothing to run', async () => {
    const path = join(temp, 'idle.yaml');
    writeFileSync(path, 'pools:\n  idle:\n    queues: [q]\n    max: 2\n    slotsPerAgent: 1\n');
    const run = await runBaton(['deploy', 'render', '--target', 'compose', '--config', path, '--out', outDir()]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('pool idle: agentArgs has none of --tasks, --allow-commands, --demo');
  });

  it('into a used --out: replaces its own files, removes the ones of a deleted pool, keeps the rest', async () => {
    const out = outDir();
    expect(
      (await runBaton(['deploy', 'render', '--target', 'k8s', '--config', EXAMPLE_CONFIG_PATH, '--out', out])).code,
    ).toBe(0);
    writeFileSync(join(out, 'kustomization.yaml'), 'resources: []\n');
    writeFileSync(join(out, 'README'), 'notes\n');
    const onePool = join(temp, 'one-pool.yaml');
    writeFileSync(
      onePool,
      'pools:\n  burst:\n    queues: [default]\n    max: 3\n    slotsPerAgent: 2\n    agentArgs: [--demo]\n',
    );
    const run = await runBaton(['deploy', 'render', '--target', 'k8s', '--config', onePool, '--out', out]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('removed 20-agent-gpu.yaml (no longer rendered)');
    expect(readdirSync(out).sort()).toEqual([
      '00-namespace.yaml',
      '10-server.yaml',
      '20-agent-burst.yaml',
      '30-monitoring.yaml',
      'README',
      'kustomization.yaml',
    ]);
    expect(readFileSync(join(out, '20-agent-burst.yaml'), 'utf8')).toContain('maxReplicaCount: 3');
  });

  it('refuses to overwrite a file it did not write, and writes nothing then', async () => {
    const out = outDir();
    expect((await runBaton(['deploy', 'render', '--target', 'k8s', '--out', out])).code).toBe(0);
    writeFileSync(join(out, '10-server.yaml'), '# mine\n');
    const before = readFileSync(join(out, '20-agent-default.yaml'), 'utf8');
    const run = await runBaton(['deploy', 'render', '--target', 'k8s', '--config', EXAMPLE_CONFIG_PATH, '--out', out]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `baton: ${join(out, '10-server.yaml')} exists and was not written by baton deploy render; move it away or choose another --out\n`,
    );
    expect(readFileSync(join(out, '10-server.yaml'), 'utf8')).toBe('# mine\n');
    expect(readFileSync(join(out, '20-agent-default.yaml'), 'utf8')).toBe(before);
    expect(existsSync(join(out, '20-agent-gpu.yaml'))).toBe(false);
  });

  it('never writes a secret: tokens and the store URL in the environment appear in no rendered file', async () => {
    const env = {
      BATON_AGENT_TOKEN: 'agent-secret-3f9c1d2e7b6a5f4e3d2c1b0a',
      BATON_ADMIN_TOKEN: 'admin-secret-8e7d6c5b4a3f2e1d0c9b8a7f',
      BATON_STORE: 'postgres://baton:pw-secret-51c0ffee@db:5432/baton',
      BATON_SERVER: 'http://server-from-env-7e1f:7070',
    };
    for (const target of ['k8s', 'helm', 'compose']) {
      const out = outDir();
      const run = await runBaton(
        ['deploy', 'render', '--target', target, '--config', EXAMPLE_CONFIG_PATH, '--out', out],
        env,
      );
      expect(run.code).toBe(0);
      const text = allText(out);
      expect(text.length).toBeGreaterThan(1000);
      for (const value of Object.values(env)) expect(text, target).not.toContain(value);
      expect(text).not.toContain('pw-secret');
    }
  });
});

describe('writeRendered', () => {
  const file = (path: string, body = 'x: 1\n') => ({ path, content: `${GENERATED_MARK} --target t\n${body}` });

  it('refuses an --out that is a file', () => {
    const path = join(temp, 'a-file');
    writeFileSync(path, 'x');
    expect(() => writeRendered(path, [file('a.yaml')])).toThrow(`--out ${path} is a file, not a directory`);
  });

  it('switching targets in one directory removes the other target`s files, in templates/ too', () => {
    const out = outDir();
    writeRendered(out, [file('10-server.yaml'), file('templates/20-agent-a.yaml')]);
    writeFileSync(join(out, 'templates', 'mine.yaml'), 'kept: true\n');
    const result = writeRendered(out, [file('Chart.yaml'), file('templates/20-agent-b.yaml', 'y: 2\n')]);
    expect(result.removed.sort()).toEqual(['10-server.yaml', 'templates/20-agent-a.yaml']);
    expect(readdirSync(join(out, 'templates')).sort()).toEqual(['20-agent-b.yaml', 'mine.yaml']);
    expect(readFileSync(join(out, 'templates', '20-agent-b.yaml'), 'utf8')).toContain('y: 2');
  });
});
