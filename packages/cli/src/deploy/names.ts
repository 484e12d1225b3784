import { DEFAULT_PORT } from '@baton/core';

/**
 * Names, labels and constants every rendered target shares, so the server Service the agents
 * dial, the selector the ServiceMonitor uses and the Secret keys the pods read agree.
 */

/** The server's port in every target: the CLI's default. */
export const SERVER_PORT = DEFAULT_PORT;
/** The server Deployment and Service (agents dial `http://baton-server:7070`). */
export const SERVER_NAME = 'baton-server';
/** The Prometheus a KEDA ScaledObject asks, unless `--prometheus` says otherwise. */
export const DEFAULT_PROMETHEUS_URL = 'http://prometheus-operated.monitoring:9090';
/** The image's non-root user (the `node` user of the Node.js base image). */
export const RUN_AS_USER = 1000;

/** The Secret's keys: the environment variables `baton server` and `baton agent` read. */
export const SECRET_KEYS = {
  store: 'BATON_STORE',
  adminToken: 'BATON_ADMIN_TOKEN',
  agentToken: 'BATON_AGENT_TOKEN',
} as const;

/** A pool's agent Deployment and autoscaler (a pool name is a DNS label of at most 40 characters). */
export function agentName(pool: string): string {
  return `baton-agent-${pool}`;
}

const PART_OF = { 'app.kubernetes.io/part-of': 'baton' };

/** The labels that select the server pods (the Service, the PDB, anti-affinity). */
export function serverSelector(): Record<string, string> {
  return { 'app.kubernetes.io/name': SERVER_NAME };
}

export function serverLabels(): Record<string, string> {
  return { ...serverSelector(), 'app.kubernetes.io/component': 'server', ...PART_OF };
}

/** The labels that select one pool's agent pods. */
export function agentSelector(pool: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'baton-agent', 'baton/pool': pool };
}

export function agentLabels(pool: string): Record<string, string> {
  return { ...agentSelector(pool), 'app.kubernetes.io/component': 'agent', ...PART_OF };
}

/** The server's URL as agents inside the cluster or the Compose network see it. */
export function serverUrl(host: string): string {
  return `http://${host}:${SERVER_PORT}`;
}
