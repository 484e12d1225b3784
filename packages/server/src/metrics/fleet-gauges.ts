import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import { AGENT_STATES } from '../agents/capacity-report.js';
import type { FleetFigures } from './fleet-figures.js';

type Collect = (f: FleetFigures) => void;

/**
 * The fleet's gauges, set at each scrape from the figures `current()` gives: the scrape's one
 * read (see server-metrics.ts), or null when the store could not be read, and then they have
 * no series (`baton_fleet_figures_up` says 0). Every server of a store exports the same
 * values: query one server (or take `max`), never sum them.
 */
export function registerFleetGauges(registry: Registry, current: () => FleetFigures | null): void {
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], collect: Collect) => {
    const g: Gauge<L> = new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        g.reset();
        const figures = current();
        if (figures) collect(figures);
      },
    });
    return g;
  };
  const up = new Gauge({
    name: 'baton_fleet_figures_up',
    help: "1 when this scrape read the fleet's figures from the store, 0 when it could not (the fleet gauges are then left out)",
    registers: [registry],
    collect() {
      up.set(current() ? 1 : 0);
    },
  });

  const pending = gauge('baton_jobs_pending', 'Jobs queued and ready to run, per queue', ['queue'], (f) => {
    for (const q of f.queues) pending.set({ queue: q.queue }, q.counts.queued);
  });
  const delayed = gauge(
    'baton_jobs_delayed',
    'Jobs waiting for their run time or retry backoff, per queue',
    ['queue'],
    (f) => {
      for (const q of f.queues) delayed.set({ queue: q.queue }, q.counts.delayed);
    },
  );
  const blocked = gauge(
    'baton_jobs_blocked',
    'Workflow steps waiting for the steps they need, per queue',
    ['queue'],
    (f) => {
      for (const q of f.queues) blocked.set({ queue: q.queue }, q.counts.blocked);
    },
  );
  const oldest = gauge(
    'baton_queue_oldest_age_seconds',
    'How long the longest-waiting queued job of each queue has waited (0 when none waits)',
    ['queue'],
    (f) => {
      for (const q of f.queues) oldest.set({ queue: q.queue }, (q.oldestQueuedAgeMs ?? 0) / 1000);
    },
  );
  const running = gauge(
    'baton_jobs_running',
    "Leased jobs (assigned or running) per queue and their agent's pool",
    ['queue', 'pool'],
    (f) => {
      for (const p of f.pools)
        for (const [queue, n] of Object.entries(p.running)) running.set({ queue, pool: p.pool }, n);
    },
  );

  const poolNames = (f: FleetFigures) =>
    new Set([...f.capacity.slots.map((s) => s.name), ...f.pools.map((p) => p.pool)]);
  const slot = (key: 'capacity' | 'used' | 'available', help: string) => {
    const g = gauge(`baton_slots_${key}`, help, ['pool'], (f) => {
      const slots = new Map(f.capacity.slots.map((s) => [s.name, s]));
      for (const pool of poolNames(f)) g.set({ pool }, slots.get(pool)?.[key] ?? 0);
    });
  };
  slot('capacity', 'Slots of connected agents (draining included), per pool');
  slot('used', 'Slots jobs hold, per pool');
  slot('available', 'Slots new work can take now, per pool');
  // A pool only an older server reports (slots, no pool figures) still gets its series, at 0.
  const figuresOf = (f: FleetFigures) => {
    const byPool = new Map(f.pools.map((p) => [p.pool, p]));
    return [...poolNames(f)].map((pool) => ({ pool, figures: byPool.get(pool) }));
  };
  const gpu = (key: 'total' | 'used' | 'unhealthy', help: string) => {
    const g = gauge(`baton_gpus_${key}`, help, ['pool'], (f) => {
      for (const { pool, figures } of figuresOf(f)) g.set({ pool }, figures?.gpus[key] ?? 0);
    });
  };
  gpu('total', 'GPUs of connected agents, per pool');
  gpu('used', 'GPUs jobs hold, per pool');
  gpu('unhealthy', 'GPUs reported unhealthy, per pool');
  const agents = gauge('baton_agents', 'Agents per pool and session state', ['pool', 'state'], (f) => {
    for (const { pool, figures } of figuresOf(f)) {
      for (const state of AGENT_STATES) agents.set({ pool, state }, figures?.agents[state] ?? 0);
    }
  });

  // Fed by the scaling work's provider; without one these have no series.
  const desired = gauge('baton_desired_agents', 'Agents each pool should have, as scaling decides', ['pool'], (f) => {
    for (const s of f.signals ?? []) if (s.desired !== null) desired.set({ pool: s.pool }, s.desired);
  });
  const stranded = gauge(
    'baton_gpus_stranded',
    'GPUs of each pool the scaling work reports as stranded (free, but of no use to the jobs waiting)',
    ['pool'],
    (f) => {
      for (const s of f.signals ?? []) stranded.set({ pool: s.pool }, s.strandedGpus);
    },
  );
}
