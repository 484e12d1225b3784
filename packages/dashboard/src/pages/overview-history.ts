import { useEffect, useState } from 'preact/hooks';
import { seesAll, useSession } from '../context.js';
import type { HistorySample, QueueRow } from '../types.js';

const WINDOW_MS = 30 * 60_000;
const SAMPLE_MS = 5_000;

/**
 * The overview's charts over the last minutes. Admins and viewers read the server's own
 * history (`/api/overview/history`, sampled every 5 s since the server started, so a fresh tab
 * shows the past too); a user's figures are of their own jobs, which only `/api/queues` counts
 * for them, so the page samples it itself, as often, and keeps the samples for this tab.
 */
export function useOverviewHistory(): { samples: HistorySample[]; error: unknown; source: 'server' | 'page' } {
  const { api, me } = useSession();
  const fromServer = seesAll(me);
  const [samples, setSamples] = useState<HistorySample[]>(() => (fromServer ? [] : loadPageSamples()));
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let stopped = false;
    let previous: HistorySample | null = null;
    const tick = async (): Promise<void> => {
      try {
        if (fromServer) {
          const h = await api.get<{ samples: HistorySample[] }>('/api/overview/history');
          if (!stopped) setSamples(h.samples);
        } else {
          const { queues } = await api.get<{ queues: QueueRow[] }>('/api/queues');
          const sample = sampleOf(queues, previous);
          previous = sample;
          if (!stopped)
            setSamples((old) => {
              const next = [...old.filter((s) => s.at > sample.at - WINDOW_MS), sample];
              sessionStorage.setItem(KEY, JSON.stringify(next));
              return next;
            });
        }
        if (!stopped) setError(null);
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
  }, [api, fromServer]);

  return { samples, error, source: fromServer ? 'server' : 'page' };
}

const KEY = 'baton.overview.samples';

function loadPageSamples(): HistorySample[] {
  try {
    const raw = JSON.parse(sessionStorage.getItem(KEY) ?? '[]') as HistorySample[];
    return raw.filter((s) => s.at > Date.now() - WINDOW_MS);
  } catch {
    return [];
  }
}

function sampleOf(queues: QueueRow[], previous: HistorySample | null): HistorySample {
  const sum = (state: string): number => queues.reduce((n, q) => n + (q.counts[state] ?? 0), 0);
  const at = Date.now();
  const finished = sum('succeeded') + sum('failed') + sum('cancelled');
  const before = previous ? previous.succeeded + previous.failed + (previous.cancelled ?? 0) : null;
  const ages = queues.map((q) => q.oldestQueuedAgeMs).filter((a): a is number => a !== null);
  return {
    at,
    queued: sum('queued'),
    running: sum('running') + sum('assigned'),
    succeeded: sum('succeeded'),
    failed: sum('failed'),
    cancelled: sum('cancelled'),
    oldestQueuedAgeMs: ages.length ? Math.max(...ages) : null,
    // Retention deletes finished jobs, so the count can fall: that is not negative throughput.
    finishedPerSec: previous && before !== null ? Math.max(0, (finished - before) / ((at - previous.at) / 1000)) : null,
  };
}
