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
  /** Gauge {pool}: GPUs that are free but cannot be used (their agent's slots are full). */
  gpusStranded: 'baton_gpus_stranded',
  /** Gauge {pool, state}: agents by connection state (connected, draining, disconnected). */
  agents: 'baton_agents',
  /** Gauge {pool}: the agents the pool should have now (what the autoscaler follows). */
  desiredAgents: 'baton_desired_agents',
  /** Counter {queue, state}: jobs that reached a final state. */
  jobsFinished: 'baton_jobs_finished_total',
  /** Counter: jobs moved to another agent after theirs was lost. */
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

/** Every metric name above. */
export const BATON_METRIC_NAMES: readonly string[] = Object.values(BATON_METRICS);

/** The names of the series a histogram exposes besides its own name. */
const HISTOGRAM_SERIES = ['_bucket', '_sum', '_count'];

/**
 * Whether `name` is a series Baton serves: a metric of the list, or a histogram's
 * `_bucket`, `_sum` or `_count`.
 */
export function isBatonSeries(name: string): boolean {
  if (BATON_METRIC_NAMES.includes(name)) return true;
  const histograms = [BATON_METRICS.jobDuration, BATON_METRICS.jobWait, BATON_METRICS.schedulePass] as string[];
  return HISTOGRAM_SERIES.some((suffix) => name.endsWith(suffix) && histograms.includes(name.slice(0, -suffix.length)));
}
