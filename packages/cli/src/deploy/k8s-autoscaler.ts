import type { BatonConfig, PoolConfig } from '@baton/core';
import type { Manifest } from './k8s-pod.js';
import { BATON_METRICS } from './metrics.js';
import { agentLabels, agentName } from './names.js';

/**
 * A pool's autoscaler. Both kinds follow the server's own decision, `baton_desired_agents`,
 * rather than computing one from utilisation: with an AverageValue target of 1 the HPA
 * formula `ceil(metric / target)` makes the replica count exactly the desired count.
 * (A `Value` target would multiply it by the current replicas.)
 */
export function agentAutoscaler(config: BatonConfig, pool: PoolConfig, prometheusUrl: string): Manifest {
  return config.deploy.autoscaler === 'hpa'
    ? horizontalPodAutoscaler(config, pool)
    : scaledObject(config, pool, prometheusUrl);
}

function scaleTarget(pool: PoolConfig): Record<string, string> {
  return { apiVersion: 'apps/v1', kind: 'Deployment', name: agentName(pool.name) };
}

/**
 * The HPA behavior that follows the decision as it comes. `baton_desired_agents` has already
 * been through the pool's stabilization windows and rate policies (the server's decision is
 * the HPA algorithm with the pool's `scaleUp`/`scaleDown`), so applying them again here would
 * double them: a 300 s scale-down window would become 600 s of idle agents. So: no window, and
 * policies that allow any step within one sync.
 */
export function followingBehavior(pool: PoolConfig): Record<string, unknown> {
  return {
    scaleUp: {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [{ type: 'Pods', value: pool.max, periodSeconds: 15 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    },
  };
}

/**
 * KEDA's cooldown: the decision reaches 0 only after the pool's own `cooldownSeconds` of
 * idleness, so KEDA need only see the 0 hold for two polls (a blip from a scrape that missed a
 * server is not a scale to zero).
 */
export function followingCooldown(config: BatonConfig): number {
  return 2 * config.scaling.syncSeconds;
}

/**
 * An autoscaling/v2 HPA on the external metric, served by an external-metrics adapter
 * (prometheus-adapter; docs/deploy.md has its rule). An HPA cannot scale to zero, so its
 * floor is at least 1 even where the pool's `min` is 0.
 */
export function horizontalPodAutoscaler(config: BatonConfig, pool: PoolConfig): Manifest {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: agentName(pool.name), namespace: config.deploy.namespace, labels: agentLabels(pool.name) },
    spec: {
      scaleTargetRef: scaleTarget(pool),
      minReplicas: Math.max(1, pool.min),
      maxReplicas: pool.max,
      metrics: [
        {
          type: 'External',
          external: {
            metric: { name: BATON_METRICS.desiredAgents, selector: { matchLabels: { pool: pool.name } } },
            target: { type: 'AverageValue', averageValue: '1' },
          },
        },
      ],
      behavior: followingBehavior(pool),
    },
  };
}

/** The PromQL a ScaledObject asks: the largest of the servers' answers (each server reports it). */
export function desiredAgentsQuery(namespace: string, pool: string): string {
  return `max(${BATON_METRICS.desiredAgents}{namespace="${namespace}",pool="${pool}"})`;
}

/**
 * A KEDA ScaledObject on a Prometheus query. KEDA scales to `minReplicaCount`, zero included:
 * once the desired count has been 0 for `cooldownPeriod` (the pool's own cooldown has already
 * passed by then), and back up when it turns positive.
 */
export function scaledObject(config: BatonConfig, pool: PoolConfig, prometheusUrl: string): Manifest {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: agentName(pool.name), namespace: config.deploy.namespace, labels: agentLabels(pool.name) },
    spec: {
      scaleTargetRef: scaleTarget(pool),
      pollingInterval: config.scaling.syncSeconds,
      cooldownPeriod: followingCooldown(config),
      minReplicaCount: pool.min,
      maxReplicaCount: pool.max,
      advanced: { horizontalPodAutoscalerConfig: { behavior: followingBehavior(pool) } },
      triggers: [
        {
          type: 'prometheus',
          metricType: 'AverageValue',
          metadata: {
            serverAddress: prometheusUrl,
            query: desiredAgentsQuery(config.deploy.namespace, pool.name),
            threshold: '1',
          },
        },
      ],
    },
  };
}
