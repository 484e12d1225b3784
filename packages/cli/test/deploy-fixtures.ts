import { fileURLToPath } from 'node:url';
import { parseBatonConfig } from '@baton/core';
import type { BatonConfig, BatonConfigInput } from '@baton/core';
import { loadConfigFile } from '@baton/server';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { defaultDeployConfig } from '../src/deploy/default-config.js';
import type { Manifest } from '../src/deploy/k8s-pod.js';

/** Shared by the deploy-*.test.ts files: configs to render, and checks of what they render. */

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const EXAMPLE_CONFIG_PATH = `${REPO}deploy/baton.example.yaml`;

export function configOf(input: BatonConfigInput): BatonConfig {
  const parsed = parseBatonConfig(input);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

/** A mixed fleet: a CPU pool, a GPU pool placed by its own nodeSelector and tolerations, a GPU pool on NVIDIA's defaults. */
export function mixedFleet(autoscaler: 'hpa' | 'keda'): BatonConfig {
  return configOf({
    pools: {
      'cpu-small': { queues: ['default', 'etl'], min: 2, max: 30, slotsPerAgent: 16, agentArgs: ['--demo'] },
      'a100-train': {
        queues: ['train'],
        min: 0,
        max: 4,
        gpusPerAgent: 4,
        slotsPerAgent: 8,
        nodeSelector: { 'cloud.example.com/accelerator': 'a100' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoExecute' }],
        scaleUp: { stabilizationWindowSeconds: 30, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
        cooldownSeconds: 900,
        agentArgs: ['--tasks', '/app/tasks.js', '--drain-grace-ms=120000'],
      },
      infer: { queues: ['infer'], min: 1, max: 12, gpusPerAgent: 1, startupSeconds: 300, agentArgs: ['--demo'] },
    },
    scaling: { syncSeconds: 30 },
    deploy: { image: 'baton:1.2.3', namespace: 'jobs', servers: 3, secretName: 'jobs-secrets', autoscaler },
  });
}

/** The configs every target is rendered and validated for. */
export function allConfigs(): [string, BatonConfig][] {
  return [
    ['default', defaultDeployConfig()],
    ['example', loadConfigFile(EXAMPLE_CONFIG_PATH)],
    ['mixed fleet (hpa)', mixedFleet('hpa')],
    ['mixed fleet (keda)', mixedFleet('keda')],
  ];
}

type Model = { validate(): void };
const MODELS: Record<string, (m: Manifest) => Model> = {
  'v1/ConfigMap': (m) => new ConfigMap(m as never),
  'v1/Namespace': (m) => new Namespace(m as never),
  'v1/Service': (m) => new Service(m as never),
  'apps/v1/Deployment': (m) => new Deployment(m as never),
  'policy/v1/PodDisruptionBudget': (m) => new PodDisruptionBudget(m as never),
  'autoscaling/v2/HorizontalPodAutoscaler': (m) => new HorizontalPodAutoscaler(m as never),
  'keda.sh/v1alpha1/ScaledObject': (m) => new ScaledObject(m as never),
  'monitoring.coreos.com/v1/ServiceMonitor': (m) => new ServiceMonitor(m as never),
  'monitoring.coreos.com/v1/PrometheusRule': (m) => new PrometheusRule(m as never),
};

/** Validates a manifest against its kind's schema; throws on any violation, or on a kind with no model. */
export function validateManifest(m: Manifest): void {
  const model = MODELS[`${m.apiVersion}/${m.kind}`];
  if (!model) throw new Error(`no model for ${m.apiVersion}/${m.kind}`);
  model(structuredClone(m)).validate();
}

/**
 * Evaluates the chart's template subset the way helm would: `{{ .Values.a.b }}`,
 * `{{ index .Values.pools "NAME" "key" }}`, `{{ .Release.Namespace }}`, `{{ "literal" }}`, each
 * optionally `| quote`. Any other action, or a value that is missing, throws: the chart must
 * stay within what this evaluator proves.
 */
export function evaluateTemplate(text: string, values: Record<string, unknown>, namespace: string): string {
  return text.replace(/\{\{(.*?)\}\}/g, (_match, body: string) => {
    const [expression = '', ...pipes] = body.split('|').map((p) => p.trim());
    let value: unknown;
    const index = /^index \.Values((?:\.\w+)+)((?: "[^"]*")+)$/.exec(expression);
    if (expression === '.Release.Namespace') value = namespace;
    else if (/^"[^"]*"$/.test(expression)) value = JSON.parse(expression);
    else if (/^\.Values(\.\w+)+$/.test(expression)) value = lookup(values, expression.split('.').slice(2));
    else if (index) {
      const keys = [
        ...(index[1] ?? '').split('.').slice(1),
        ...[...(index[2] ?? '').matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? ''),
      ];
      value = lookup(values, keys);
    } else throw new Error(`unsupported template action {{${body}}}`);
    for (const pipe of pipes) {
      if (pipe !== 'quote') throw new Error(`unsupported template function ${pipe}`);
      value = JSON.stringify(String(value));
    }
    return String(value);
  });
}

function lookup(values: unknown, path: string[]): unknown {
  let node = values;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !(key in node)) throw new Error(`no value at ${path.join('.')}`);
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
