import type { BatonConfig } from '@baton/core';
import { componentFiles } from './k8s-render.js';
import type { KubernetesOptions } from './k8s-render.js';
import type { Manifest } from './k8s-pod.js';
import type { RenderedFile } from './rendered-file.js';
import { generatedHeader, yamlText } from './rendered-file.js';

/**
 * `--target helm`: a chart whose templates are the `--target k8s` manifests with a few fields
 * replaced by plain substitutions: `{{ .Values.path }}`, `{{ index .Values.pools "NAME" "key" }}`,
 * `{{ .Release.Namespace }}`, optionally `| quote`, and `{{ "{{" }}` for a literal `{{`. No loops
 * and no conditionals: a pool is a template file rendered from baton.yaml, so the chart stays
 * readable without helm at hand and a test can evaluate it. With its default values it yields
 * exactly the k8s target's objects.
 */

export const CHART_VERSION = '0.1.0';

/** One field of a manifest's `spec` that the chart takes from values. */
interface NumberKnob {
  manifest: number;
  field: string;
  valuePath: string[];
}

/**
 * Replicas: what an operator changes per installation. A pool's bounds are not values: they
 * live in baton.yaml, which the servers' scaling decisions read too (the ConfigMap), so they
 * change there and the chart is rendered again; a value could only make the two disagree.
 */
function numberKnobs(manifests: Manifest[]): NumberKnob[] {
  const knobs: NumberKnob[] = [];
  manifests.forEach((m, i) => {
    const pool = m.metadata.labels?.['baton/pool'];
    if (m.kind === 'Deployment')
      knobs.push({
        manifest: i,
        field: 'replicas',
        valuePath: pool === undefined ? ['servers'] : ['pools', pool, 'replicas'],
      });
  });
  return knobs;
}

function valueExpression(path: string[]): string {
  const [head, pool, key] = path;
  return head === 'pools'
    ? `index .Values.pools ${JSON.stringify(pool)} ${JSON.stringify(key)}`
    : `.Values.${path.join('.')}`;
}

/** Strings stood in for by a marker while rendering, then replaced by their template action. */
const STRING_KNOBS = {
  namespace: { marker: '__helm_namespace__', action: '{{ .Release.Namespace }}' },
  image: { marker: '__helm_image__', action: '{{ .Values.image | quote }}' },
  secretName: { marker: '__helm_secret__', action: '{{ .Values.secretName | quote }}' },
  prometheus: { marker: '__helm_prometheus__', action: '{{ .Values.prometheus.serverAddress | quote }}' },
};

function spec(m: Manifest): Record<string, unknown> {
  return m.spec as Record<string, unknown>;
}

function setIn(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] ?? ''] = value;
}

/** The chart's values (what `values.yaml` holds) and its templates' text, file by file. */
export function helmChart(
  config: BatonConfig,
  options: KubernetesOptions,
): { values: Record<string, unknown>; templates: RenderedFile[] } {
  const real = componentFiles(config, options);
  const marked = componentFiles(
    {
      ...config,
      deploy: {
        ...config.deploy,
        namespace: STRING_KNOBS.namespace.marker,
        image: STRING_KNOBS.image.marker,
        secretName: STRING_KNOBS.secretName.marker,
      },
    },
    { prometheusUrl: STRING_KNOBS.prometheus.marker },
  );
  const values: Record<string, unknown> = {
    image: config.deploy.image,
    servers: config.deploy.servers,
    secretName: config.deploy.secretName,
    prometheus: { serverAddress: options.prometheusUrl },
  };
  const actions: string[] = [];
  marked.forEach((file, f) => {
    for (const knob of numberKnobs(file.manifests)) {
      const actual = real[f]?.manifests[knob.manifest];
      const templated = file.manifests[knob.manifest];
      if (actual === undefined || templated === undefined)
        throw new Error(`no manifest ${knob.manifest} in ${file.name}`);
      setIn(values, knob.valuePath, spec(actual)[knob.field]);
      spec(templated)[knob.field] = `__helm_${actions.length}__`;
      actions.push(`{{ ${valueExpression(knob.valuePath)} }}`);
    }
  });
  const templates = marked.map((file) => {
    // Text that looks like a template action (an agent argument, say) is written as a literal.
    let text = yamlText(file.manifests)
      .replaceAll('{{', '{{ "{{" }}')
      .replace(/__helm_(\d+)__/g, (_m, n: string) => actions[Number(n)] ?? '');
    for (const knob of Object.values(STRING_KNOBS)) text = text.replaceAll(knob.marker, knob.action);
    return { path: `templates/${file.name}`, content: generatedHeader('helm') + text };
  });
  return { values, templates };
}

/** `--target helm`: `Chart.yaml`, `values.yaml` and `templates/*.yaml`, for `helm install baton DIR`. */
export function renderHelmChart(config: BatonConfig, options: KubernetesOptions): RenderedFile[] {
  const { values, templates } = helmChart(config, options);
  const chart = {
    apiVersion: 'v2',
    name: 'baton',
    description: 'Baton job orchestrator: API servers and autoscaled agent pools',
    type: 'application',
    version: CHART_VERSION,
    appVersion: CHART_VERSION,
  };
  return [
    { path: 'Chart.yaml', content: generatedHeader('helm') + yamlText([chart]) },
    { path: 'values.yaml', content: generatedHeader('helm') + VALUES_GUIDE + yamlText([values]) },
    ...templates,
  ];
}

const VALUES_GUIDE = `#
# image: the Baton image of servers and agents.
# servers: API server replicas.
# secretName: the Secret with BATON_STORE, BATON_ADMIN_TOKEN and BATON_AGENT_TOKEN.
# prometheus.serverAddress: the Prometheus KEDA's ScaledObjects query.
# pools.NAME.replicas: the agents a new Deployment starts with; the autoscaler owns the count after.
# A pool's bounds (min, max) and scaling settings are baton.yaml's: change them there and render
# the chart again (the servers' scaling decisions read the same file, from the baton-config ConfigMap).
# The namespace is the release's (helm install -n NAMESPACE --create-namespace).
`;
