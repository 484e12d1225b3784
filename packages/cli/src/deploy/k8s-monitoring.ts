import type { BatonConfig } from '@baton/core';
import { batonAlerts } from './alerts.js';
import type { Manifest } from './k8s-pod.js';
import { SERVER_NAME, serverLabels, serverSelector } from './names.js';

/**
 * Prometheus Operator objects: a ServiceMonitor that scrapes every server replica's `/metrics`
 * on the Service's `http` port, and the alerting rules.
 */
export function monitoringManifests(config: BatonConfig): Manifest[] {
  const { namespace } = config.deploy;
  const metadata = { name: SERVER_NAME, namespace, labels: serverLabels() };
  const serviceMonitor: Manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata,
    spec: {
      selector: { matchLabels: serverSelector() },
      namespaceSelector: { matchNames: [namespace] },
      endpoints: [{ port: 'http', path: '/metrics', interval: '15s' }],
    },
  };
  const rules: Manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'baton', namespace, labels: serverLabels() },
    spec: {
      groups: [
        {
          name: 'baton',
          rules: batonAlerts(namespace).map((a) => ({
            alert: a.alert,
            expr: a.expr,
            for: a.for,
            labels: { severity: a.severity },
            annotations: { summary: a.summary },
          })),
        },
      ],
    },
  };
  return [serviceMonitor, rules];
}
