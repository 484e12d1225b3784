/**
 * The metrics a Baton server serves at `GET /metrics`, as the rendered alerts, autoscalers and
 * the Grafana dashboard (deploy/grafana) use them. One list, so a renamed metric breaks a test
 * instead of silently emptying a panel or muting an alert.
 */
export const BATON_METRICS = {
  /** Gauge {queue}: jobs waiting to be placed. */
  jobsPending: 'baton_jobs_pending',
  /** Gauge {queue, pool}: jobs running now. */
  jobsRunning: 'baton_jobs_running',
  /** Gauge {queue}: age of the oldest pending job, seconds. */
  queueOldestAge: 'baton_queue_oldest_age_seconds',
  /** Gauges {pool}: job slots of connected agents, in use, and free. */
  slotsCapacity: 'baton_slots_capacity',
  slotsUsed: 'baton_slots_used',
  slotsAvailable: 'baton_slots_available',
  /** Gauges {pool}: GPUs of connected agents, in use, and reported unhealthy. */
  gpusTotal: 'baton_gpus_total',
  gpusUsed: 'baton_gpus_used',
  gpusUnhealthy: 'baton_gpus_unhealthy',
  /** Gauge {pool}: GPUs that are free but no job can use (stranded on their agent). */
  gpusStranded: 'baton_gpus_stranded',
  /** Gauge {pool, state}: agents by connection state (connected, draining, disconnected). */
  agents: 'baton_agents',
  /** Gauge {pool}: the agents the pool should have now (what the autoscaler follows). */
  desiredAgents: 'baton_desired_agents',
  /** Counter {queue, state}: jobs that reached a final state. */
  jobsFinished: 'baton_jobs_finished_total',
  /** Counter {reason}: jobs sent back to the queue because their agent, lease or GPU was lost. */
  failovers: 'baton_failovers_total',
  /** Counter: jobs preempted for a higher priority class. */
  preemptions: 'baton_preemptions_total',
  /** Histogram {queue}: run time of finished jobs, seconds. */
  jobDuration: 'baton_job_duration_seconds',
  /** Histogram {queue}: time from submission to start, seconds. */
  jobWait: 'baton_job_wait_seconds',
  /** Histogram: time of one scheduling pass, seconds. */
  schedulePass: 'baton_schedule_pass_seconds',
} as const;

/** The labels each metric carries (Prometheus adds its target labels, e.g. `namespace`, on scrape). */
export const BATON_METRIC_LABELS: Readonly<Record<string, readonly string[]>> = {
  [BATON_METRICS.jobsPending]: ['queue'],
  [BATON_METRICS.jobsRunning]: ['queue', 'pool'],
  [BATON_METRICS.queueOldestAge]: ['queue'],
  [BATON_METRICS.slotsCapacity]: ['pool'],
  [BATON_METRICS.slotsUsed]: ['pool'],
  [BATON_METRICS.slotsAvailable]: ['pool'],
  [BATON_METRICS.gpusTotal]: ['pool'],
  [BATON_METRICS.gpusUsed]: ['pool'],
  [BATON_METRICS.gpusUnhealthy]: ['pool'],
  [BATON_METRICS.gpusStranded]: ['pool'],
  [BATON_METRICS.agents]: ['pool', 'state'],
  [BATON_METRICS.desiredAgents]: ['pool'],
  [BATON_METRICS.jobsFinished]: ['queue', 'state'],
  [BATON_METRICS.failovers]: ['reason'],
  [BATON_METRICS.preemptions]: [],
  [BATON_METRICS.jobDuration]: ['queue'],
  [BATON_METRICS.jobWait]: ['queue'],
  [BATON_METRICS.schedulePass]: [],
};

/** Every metric name above. */
export const BATON_METRIC_NAMES: readonly string[] = Object.values(BATON_METRICS);

/** The series a histogram exposes besides its own name (`_bucket` adds the label `le`). */
const HISTOGRAM_SERIES = ['_bucket', '_sum', '_count'];
const HISTOGRAMS: readonly string[] = [BATON_METRICS.jobDuration, BATON_METRICS.jobWait, BATON_METRICS.schedulePass];

/**
 * The metric a series name belongs to: the name itself, or a histogram's `_bucket`, `_sum` or
 * `_count`; null for a series Baton does not serve.
 */
export function batonMetricOf(series: string): string | null {
  if (BATON_METRIC_NAMES.includes(series)) return series;
  const suffix = HISTOGRAM_SERIES.find((s) => series.endsWith(s) && HISTOGRAMS.includes(series.slice(0, -s.length)));
  return suffix === undefined ? null : series.slice(0, -suffix.length);
}

/** Whether `series` is one Baton serves. */
export function isBatonSeries(series: string): boolean {
  return batonMetricOf(series) !== null;
}

/** The labels a series carries: its metric's, and `le` on a histogram's buckets. */
export function labelsOfSeries(series: string): readonly string[] {
  const metric = batonMetricOf(series);
  if (metric === null) return [];
  const labels = BATON_METRIC_LABELS[metric] ?? [];
  return series.endsWith('_bucket') ? [...labels, 'le'] : labels;
}
