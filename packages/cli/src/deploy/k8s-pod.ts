import { RUN_AS_USER } from './names.js';

/** A Kubernetes object as rendered: plain data, validated against the API's schemas in tests. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The pod-level hardening every Baton pod gets: a non-root user and the runtime's seccomp profile. */
export function podSecurityContext(): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    fsGroup: RUN_AS_USER,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * The container-level hardening. `readOnlyRoot` is false for agents: the jobs they run write
 * files (their working directory, caches) wherever the task says.
 */
export function containerSecurityContext(readOnlyRoot: boolean): Record<string, unknown> {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: readOnlyRoot,
    capabilities: { drop: ['ALL'] },
  };
}

/** Environment variables read from the Secret, by reference: the values never appear in a manifest. */
export function secretEnv(secretName: string, keys: readonly string[]): Record<string, unknown>[] {
  return keys.map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: secretName, key } } }));
}

/** Spread replicas over nodes where the scheduler can: a lost node takes one replica, not all. */
export function spreadOverNodes(selector: Record<string, string>): Record<string, unknown> {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } },
        },
      ],
    },
  };
}
