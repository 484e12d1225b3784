import type { BatonConfig } from '@baton/core';
import { renderCompose } from './compose.js';
import { renderHelmChart } from './helm-chart.js';
import { renderKubernetes } from './k8s-render.js';
import type { KubernetesOptions } from './k8s-render.js';
import type { RenderedFile } from './rendered-file.js';

export const DEPLOY_TARGETS = ['k8s', 'helm', 'compose'] as const;
export type DeployTarget = (typeof DEPLOY_TARGETS)[number];

/** Everything `baton deploy render` writes for one target, from one config. Pure: no files touched. */
export function renderDeployment(
  target: DeployTarget,
  config: BatonConfig,
  options: KubernetesOptions,
): RenderedFile[] {
  switch (target) {
    case 'k8s':
      return renderKubernetes(config, options);
    case 'helm':
      return renderHelmChart(config, options);
    case 'compose':
      return renderCompose(config);
  }
}
