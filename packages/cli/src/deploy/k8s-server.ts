import type { BatonConfig } from '@baton/core';
import type { Manifest } from './k8s-pod.js';
import { containerSecurityContext, podSecurityContext, secretEnv, spreadOverNodes } from './k8s-pod.js';
import { SECRET_KEYS, SERVER_NAME, SERVER_PORT, serverLabels, serverSelector } from './names.js';
import { CONFIG_PATH, configChecksum, serverConfigText } from './config-text.js';

/** The ConfigMap holding the servers' baton.yaml. */
export const CONFIG_MAP_NAME = 'baton-config';

/**
 * The server tier: `deploy.servers` replicas of `baton server` behind one ClusterIP Service.
 * Every replica serves the API and takes a share of the scheduler's shards, so any of them
 * may go (a node drain, a crash) while the others carry on; the PDB lets one go at a time.
 */
export function serverManifests(config: BatonConfig): Manifest[] {
  const { namespace, servers, image, secretName } = config.deploy;
  const metadata = { name: SERVER_NAME, namespace, labels: serverLabels() };
  // The servers decide each pool's scaling from the same pools the agents were rendered from.
  const configText = serverConfigText(config);
  const configMap: Manifest = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: CONFIG_MAP_NAME, namespace, labels: serverLabels() },
    data: { 'baton.yaml': configText },
  };
  const deployment: Manifest = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      replicas: servers,
      selector: { matchLabels: serverSelector() },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        // A changed config rolls the servers (a ConfigMap edit alone restarts nothing).
        metadata: { labels: serverLabels(), annotations: { 'baton/config-checksum': configChecksum(configText) } },
        spec: {
          automountServiceAccountToken: false,
          securityContext: podSecurityContext(),
          affinity: spreadOverNodes(serverSelector()),
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'server',
              image,
              args: ['server', '--host', '0.0.0.0', '--port', String(SERVER_PORT), '--config', CONFIG_PATH],
              ports: [{ name: 'http', containerPort: SERVER_PORT, protocol: 'TCP' }],
              env: secretEnv(secretName, [SECRET_KEYS.store, SECRET_KEYS.adminToken, SECRET_KEYS.agentToken]),
              // Opening the store migrates it: the first start may take a while.
              startupProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2, failureThreshold: 60 },
              livenessProbe: {
                httpGet: { path: '/healthz', port: 'http' },
                periodSeconds: 10,
                timeoutSeconds: 5,
                failureThreshold: 6,
              },
              // Not ready while the store does not answer: the Service sends no API calls there.
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'http' },
                periodSeconds: 5,
                timeoutSeconds: 5,
                failureThreshold: 3,
              },
              resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
              securityContext: containerSecurityContext(true),
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'config', mountPath: CONFIG_PATH.slice(0, CONFIG_PATH.lastIndexOf('/')), readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: {} },
            { name: 'config', configMap: { name: CONFIG_MAP_NAME } },
          ],
        },
      },
    },
  };
  const service: Manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      type: 'ClusterIP',
      selector: serverSelector(),
      ports: [{ name: 'http', port: SERVER_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
  const disruptionBudget: Manifest = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata,
    // maxUnavailable, not minAvailable: with one server a node drain may still proceed.
    spec: { maxUnavailable: 1, selector: { matchLabels: serverSelector() } },
  };
  return [configMap, deployment, service, disruptionBudget];
}
