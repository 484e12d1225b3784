import type { BatonConfig } from '@baton/core';
import { agentDeployment } from './k8s-agent.js';
import { agentAutoscaler } from './k8s-autoscaler.js';
import { monitoringManifests } from './k8s-monitoring.js';
import type { Manifest } from './k8s-pod.js';
import { serverManifests } from './k8s-server.js';
import type { RenderedFile } from './rendered-file.js';
import { generatedHeader, yamlText } from './rendered-file.js';

export interface KubernetesOptions {
  /** The Prometheus that KEDA's ScaledObjects query. */
  prometheusUrl: string;
}

/** Manifests grouped as files: one per component, numbered so `kubectl apply -f DIR` creates the namespace first. */
export interface ManifestFile {
  /** File name without a directory, e.g. `20-agent-gpu.yaml`. */
  name: string;
  manifests: Manifest[];
}

export function namespaceManifest(config: BatonConfig): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: config.deploy.namespace, labels: { 'app.kubernetes.io/part-of': 'baton' } },
  };
}

/** Every object but the Namespace (which Helm creates with `--create-namespace`). */
export function componentFiles(config: BatonConfig, options: KubernetesOptions): ManifestFile[] {
  return [
    { name: '10-server.yaml', manifests: serverManifests(config) },
    ...config.pools.map((pool) => ({
      name: `20-agent-${pool.name}.yaml`,
      manifests: [agentDeployment(config, pool), agentAutoscaler(config, pool, options.prometheusUrl)],
    })),
    { name: '30-monitoring.yaml', manifests: monitoringManifests(config) },
  ];
}

export function kubernetesFiles(config: BatonConfig, options: KubernetesOptions): ManifestFile[] {
  return [{ name: '00-namespace.yaml', manifests: [namespaceManifest(config)] }, ...componentFiles(config, options)];
}

/** `--target k8s`: plain manifests for `kubectl apply -f DIR`. */
export function renderKubernetes(config: BatonConfig, options: KubernetesOptions): RenderedFile[] {
  return kubernetesFiles(config, options).map((f) => ({
    path: f.name,
    content: generatedHeader('k8s') + yamlText(f.manifests),
  }));
}
