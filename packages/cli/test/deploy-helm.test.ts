import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { BatonConfig } from '@baton/core';
import { loadConfigFile } from '@baton/server';
import { renderHelmChart } from '../src/deploy/helm-chart.js';
import { componentFiles } from '../src/deploy/k8s-render.js';
import type { Manifest } from '../src/deploy/k8s-pod.js';
import { DEFAULT_PROMETHEUS_URL } from '../src/deploy/names.js';
import type { RenderedFile } from '../src/deploy/rendered-file.js';
import {
  EXAMPLE_CONFIG_PATH,
  REPO,
  allConfigs,
  configOf,
  evaluateTemplate,
  validateManifest,
} from './deploy-fixtures.js';

const OPTIONS = { prometheusUrl: 'http://prom.monitoring:9090' };

/** What `helm template -n NAMESPACE` would print for the chart: every template, evaluated and parsed. */
function helmTemplate(files: RenderedFile[], values: Record<string, unknown>, namespace: string): Manifest[] {
  return files
    .filter((f) => f.path.startsWith('templates/'))
    .flatMap((f) => parseAllDocuments(evaluateTemplate(f.content, values, namespace)).map((d) => d.toJS() as Manifest));
}

function defaultValues(files: RenderedFile[]): Record<string, unknown> {
  const text = files.find((f) => f.path === 'values.yaml')?.content;
  if (text === undefined) throw new Error('no values.yaml');
  return parse(text) as Record<string, unknown>;
}

function k8sObjects(config: BatonConfig): Manifest[] {
  return componentFiles(config, OPTIONS).flatMap((f) => f.manifests);
}

describe('baton deploy render --target helm', () => {
  it.each(allConfigs())('with its default values the %s chart yields exactly the k8s objects', (_name, config) => {
    const files = renderHelmChart(config, OPTIONS);
    const objects = helmTemplate(files, defaultValues(files), config.deploy.namespace);
    expect(objects).toEqual(k8sObjects(config));
    for (const m of objects) validateManifest(m);
  });

  it('takes the image, servers, secret, Prometheus, namespace and initial replicas from values', () => {
    const config = loadConfigFile(EXAMPLE_CONFIG_PATH);
    const files = renderHelmChart(config, OPTIONS);
    const values = structuredClone(defaultValues(files)) as any;
    expect(values).toEqual({
      image: 'baton:0.1.0',
      servers: 2,
      secretName: 'baton-secrets',
      prometheus: { serverAddress: OPTIONS.prometheusUrl },
      pools: {
        burst: { replicas: 0 },
        gpu: { replicas: 0 },
      },
    });
    values.image = 'registry.example/baton:9';
    values.servers = 5;
    values.secretName = 'other-secrets';
    values.prometheus.serverAddress = 'http://prom:9090';
    values.pools.gpu = { replicas: 2 };
    const objects = helmTemplate(files, values, 'prod');
    const changed = configOf({
      pools: {
        burst: { ...rawPool(config, 'burst') },
        gpu: { ...rawPool(config, 'gpu') },
      },
      deploy: {
        ...config.deploy,
        image: 'registry.example/baton:9',
        servers: 5,
        secretName: 'other-secrets',
        namespace: 'prod',
      },
    });
    const expected = k8sObjects(changed).map((m) => withPrometheus(m, 'http://prom:9090'));
    // The initial replicas of the GPU pool's Deployment, which the autoscaler owns afterwards.
    const gpuDeployment = expected.find((m) => m.kind === 'Deployment' && m.metadata.name === 'baton-agent-gpu');
    (gpuDeployment?.spec as { replicas: number }).replicas = 2;
    expect(objects).toEqual(expected);
  });

  it('keeps a literal {{ in an agent argument literal', () => {
    const config = configOf({
      pools: {
        p: { queues: ['q'], max: 2, slotsPerAgent: 1, agentArgs: ['--allow-commands', '--command-env', 'T={{x}}'] },
      },
    });
    const files = renderHelmChart(config, OPTIONS);
    const objects = helmTemplate(files, defaultValues(files), 'baton');
    expect(objects).toEqual(k8sObjects(config));
    expect(JSON.stringify(objects)).toContain('T={{x}}');
  });

  it('the evaluator refuses actions outside the subset, so a test pass means helm agrees', () => {
    expect(() => evaluateTemplate('{{ if .Values.x }}', {}, 'ns')).toThrow(/unsupported/);
    expect(() => evaluateTemplate('{{ .Values.x | default 1 }}', { x: 1 }, 'ns')).toThrow(/unsupported/);
    expect(() => evaluateTemplate('{{ .Values.missing }}', {}, 'ns')).toThrow(/no value/);
    expect(
      evaluateTemplate(
        'a: {{ index .Values.pools "a-b" "max" }} {{ .Values.s | quote }}',
        { pools: { 'a-b': { max: 3 } }, s: 'x' },
        'n',
      ),
    ).toBe('a: 3 "x"');
  });

  it('the chart committed under deploy/helm/baton is what render makes of deploy/baton.example.yaml', () => {
    const files = renderHelmChart(loadConfigFile(EXAMPLE_CONFIG_PATH), { prometheusUrl: DEFAULT_PROMETHEUS_URL });
    const dir = join(REPO, 'deploy/helm/baton');
    expect(listFiles(dir).sort()).toEqual(files.map((f) => f.path).sort());
    for (const f of files) expect(readFileSync(join(dir, f.path), 'utf8'), f.path).toBe(f.content);
    expect(parse(files.find((f) => f.path === 'Chart.yaml')?.content ?? '')).toMatchObject({
      apiVersion: 'v2',
      name: 'baton',
    });
  });
});

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path, base) : [relative(base, path)];
  });
}

/** The config input of a parsed pool (its name dropped), to build a changed config from. */
function rawPool(config: BatonConfig, name: string): any {
  const { name: _name, ...rest } = config.pools.find((p) => p.name === name) ?? {};
  return rest;
}

function withPrometheus(m: Manifest, url: string): Manifest {
  if (m.kind !== 'ScaledObject') return m;
  const copy = structuredClone(m) as any;
  copy.spec.triggers[0].metadata.serverAddress = url;
  return copy;
}
