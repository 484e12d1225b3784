import { BATON_METRICS as M } from './metrics.js';

/** One alerting rule of the PrometheusRule, with the meaning docs/deploy.md repeats. */
export interface BatonAlert {
  alert: string;
  expr: string;
  for: string;
  severity: 'warning' | 'critical';
  summary: string;
}

/** Thresholds of the alerts: edit the rendered rule to change them for one installation. */
export const QUEUE_AGE_ALERT_SECONDS = 900;
export const FAILOVERS_PER_SECOND_ALERT = 0.05;

/**
 * The alerts, scoped to one namespace. Summaries hold no `{{ $labels }}`: the Helm chart
 * carries them verbatim, and Helm would read those as its own template actions.
 * Gauges are read with `max` because every server replica
 * reports the same fleet-wide value; counters are summed, as each replica counts its own.
 */
export function batonAlerts(namespace: string): BatonAlert[] {
  const ns = `namespace="${namespace}"`;
  return [
    {
      alert: 'BatonQueueBacklogOld',
      expr: `max by (queue) (${M.queueOldestAge}{${ns}}) > ${QUEUE_AGE_ALERT_SECONDS}`,
      for: '10m',
      severity: 'warning',
      summary: `A job of the queue in the alert's labels has waited over ${QUEUE_AGE_ALERT_SECONDS / 60} minutes: too few agents take that queue, or none can run it.`,
    },
    {
      alert: 'BatonAgentsDisconnected',
      expr: `max by (pool) (${M.agents}{${ns},state="disconnected"}) > 0`,
      for: '5m',
      severity: 'warning',
      summary: "Agents of the pool in the alert's labels lost their connection and have not come back.",
    },
    {
      alert: 'BatonFailoversHigh',
      expr: `sum(rate(${M.failovers}{${ns}}[5m])) > ${FAILOVERS_PER_SECOND_ALERT}`,
      for: '10m',
      severity: 'warning',
      summary:
        'Jobs keep moving to other agents after theirs were lost: agents crash, are evicted or lose the network.',
    },
    {
      alert: 'BatonGpusStranded',
      expr: `max by (pool) (${M.gpusStranded}{${ns}}) > 0`,
      for: '15m',
      severity: 'warning',
      summary:
        "GPUs of the pool in the alert's labels have been idle and unusable for 15 minutes: paid for, running nothing.",
    },
    {
      alert: 'BatonGpusUnhealthy',
      expr: `max by (pool) (${M.gpusUnhealthy}{${ns}}) > 0`,
      for: '5m',
      severity: 'critical',
      summary: "Agents of the pool in the alert's labels report unhealthy GPUs; no work is placed on them.",
    },
  ];
}
