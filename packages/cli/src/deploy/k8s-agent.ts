import type { BatonConfig, PoolConfig } from '@baton/core';
import { agentCommand, connectedProbe, startupSeconds, stopGraceSeconds } from './agent-command.js';
import type { Manifest } from './k8s-pod.js';
import { containerSecurityContext, podSecurityContext, secretEnv, spreadOverNodes } from './k8s-pod.js';
import { SECRET_KEYS, SERVER_NAME, SERVER_PORT, agentLabels, agentName, agentSelector, serverUrl } from './names.js';

/** NVIDIA's device plugin: the resource it offers, and the label and taint its GPU nodes carry. */
const GPU_RESOURCE = 'nvidia.com/gpu';
const GPU_NODE_SELECTOR = { 'nvidia.com/gpu.present': 'true' };
const GPU_TOLERATION = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };
/** What an agent pod requests when its pool says nothing. */
const DEFAULT_CPU = '500m';
const DEFAULT_MEMORY = '512Mi';
const STARTUP_PERIOD_SECONDS = 10;

/**
 * One pool's agents: a Deployment of `baton agent` pods. Its replica count starts at the pool's
 * `min`; from then on the pool's HPA or ScaledObject sets it. SIGTERM makes an agent drain, so
 * scale-down needs no preStop hook, only a grace period that covers the drain.
 */
export function agentDeployment(config: BatonConfig, pool: PoolConfig): Manifest {
  const { namespace, image, secretName } = config.deploy;
  const gpu = pool.gpusPerAgent !== undefined;
  const requests: Record<string, string> = {
    cpu: pool.cpu !== undefined ? String(pool.cpu) : DEFAULT_CPU,
    memory: pool.memoryMb !== undefined ? `${pool.memoryMb}Mi` : DEFAULT_MEMORY,
  };
  // Memory is limited at the request (an agent over it is the one killed, not its neighbours); CPU is not.
  const limits: Record<string, string> = { memory: requests.memory ?? DEFAULT_MEMORY };
  if (pool.gpusPerAgent !== undefined) limits[GPU_RESOURCE] = String(pool.gpusPerAgent);
  const nodeSelector = pool.nodeSelector ?? (gpu ? GPU_NODE_SELECTOR : undefined);
  const tolerations = pool.tolerations ?? (gpu ? [GPU_TOLERATION] : undefined);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: agentName(pool.name), namespace, labels: agentLabels(pool.name) },
    spec: {
      replicas: pool.min,
      selector: { matchLabels: agentSelector(pool.name) },
      template: {
        metadata: { labels: agentLabels(pool.name) },
        spec: {
          automountServiceAccountToken: false,
          securityContext: podSecurityContext(),
          affinity: spreadOverNodes(agentSelector(pool.name)),
          terminationGracePeriodSeconds: stopGraceSeconds(pool),
          ...(nodeSelector !== undefined && { nodeSelector }),
          ...(tolerations !== undefined && { tolerations }),
          containers: [
            {
              name: 'agent',
              image,
              args: agentCommand(pool, serverUrl(SERVER_NAME)),
              env: secretEnv(secretName, [SECRET_KEYS.agentToken]),
              // An agent serves no HTTP: it is started once it holds a connection to a server.
              startupProbe: {
                exec: { command: connectedProbe(SERVER_PORT) },
                periodSeconds: STARTUP_PERIOD_SECONDS,
                timeoutSeconds: 5,
                failureThreshold: Math.ceil(startupSeconds(pool) / STARTUP_PERIOD_SECONDS),
              },
              resources: { requests, limits },
              securityContext: containerSecurityContext(false),
            },
          ],
        },
      },
    },
  };
}
