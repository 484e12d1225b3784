import { useEffect, useState } from 'preact/hooks';
import { useSession } from '../context.js';
import { TimeChart } from '../components/chart.js';
import { Card, ErrorNote, Loading } from '../components/notice.js';
import { ago } from '../format.js';
import type { ScalingPool } from '../types.js';

const SAMPLE_MS = 5000;
const WINDOW_MS = 30 * 60_000;
const KEY = 'baton.scaling.samples';

interface Sample {
  at: number;
  pools: Record<string, { current: number; desired: number }>;
}

/**
 * Per pool, the agents it has against those it should have, over time. `/api/scaling` answers
 * the decision now; the page samples it every 5 s and keeps 30 minutes in this tab.
 */
export function Scaling() {
  const { api } = useSession();
  const [pools, setPools] = useState<ScalingPool[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [samples, setSamples] = useState<Sample[]>(() => {
    try {
      return (JSON.parse(sessionStorage.getItem(KEY) ?? '[]') as Sample[]).filter((s) => s.at > Date.now() - WINDOW_MS);
    } catch {
      return [];
    }
  });

  useEffect(() => {
    let stopped = false;
    const tick = async (): Promise<void> => {
      try {
        const r = await api.get<{ pools: ScalingPool[] }>('/api/scaling');
        if (stopped) return;
        setPools(r.pools);
        setError(null);
        const sample: Sample = {
          at: Date.now(),
          pools: Object.fromEntries(r.pools.map((p) => [p.pool, { current: p.current, desired: p.desired }])),
        };
        setSamples((old) => {
          const next = [...old.filter((s) => s.at > sample.at - WINDOW_MS), sample];
          sessionStorage.setItem(KEY, JSON.stringify(next));
          return next;
        });
      } catch (err) {
        if (!stopped) setError(err);
      }
    };
    void tick();
    const timer = setInterval(() => void tick(), SAMPLE_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [api]);

  const times = samples.map((s) => s.at / 1000);
  return (
    <div class="page">
      <h1>Scaling</h1>
      <ErrorNote error={error} />
      {!pools && !error && <Loading what="scaling decisions" />}
      {pools?.length === 0 && (
        <p class="muted">
          No pools are configured for autoscaling. Give the server a <code>baton.yaml</code> with pools (see
          docs/autoscale.md) and each pool's current and desired agents appear here.
        </p>
      )}
      <div class="grid two">
        {pools?.map((p) => (
          <Card key={p.pool} title={`Pool ${p.pool}`} id={`pool-${p.pool}`}>
            <p>
              <strong>{p.current}</strong> agents, <strong>{p.desired}</strong> wanted (min {p.min}, max {p.max}) ·{' '}
              {p.pendingJobs} jobs pending · load {p.load} {p.unit}
            </p>
            <p class="small muted">{p.reason}</p>
            <p class="small muted">
              Last scaled {p.lastScaleAt ? ago(new Date(p.lastScaleAt).toISOString()) : 'never'}
            </p>
            <TimeChart
              title={`${p.pool}: agents current and desired`}
              times={times}
              series={[
                {
                  label: 'current',
                  color: 'var(--running)',
                  values: samples.map((s) => s.pools[p.pool]?.current ?? null),
                },
                {
                  label: 'desired',
                  color: 'var(--accent)',
                  values: samples.map((s) => s.pools[p.pool]?.desired ?? null),
                },
              ]}
            />
          </Card>
        ))}
      </div>
    </div>
  );
}
