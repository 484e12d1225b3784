/** The Jobs page's filters, read from and written to the URL so a filtered view is a link. */
export interface JobFilters {
  state: string;
  queue: string;
  task: string;
  owner: string;
  /** A window back from now: '15m', '1h', '24h', '7d', or '' for all time. */
  range: string;
}

export const RANGES: Record<string, { label: string; ms: number }> = {
  '15m': { label: 'last 15 minutes', ms: 15 * 60_000 },
  '1h': { label: 'last hour', ms: 3_600_000 },
  '24h': { label: 'last 24 hours', ms: 86_400_000 },
  '7d': { label: 'last 7 days', ms: 7 * 86_400_000 },
};

export function filtersFrom(query: URLSearchParams): JobFilters {
  const range = query.get('range') ?? '';
  return {
    state: query.get('state') ?? '',
    queue: query.get('queue') ?? '',
    task: query.get('task') ?? '',
    owner: query.get('owner') ?? '',
    range: range in RANGES ? range : '',
  };
}

/** The filter as the API takes it (`GET /api/jobs`, the bulk actions). */
export function apiFilter(f: JobFilters, now = Date.now()): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (f.state) out.state = f.state;
  if (f.queue) out.queue = f.queue;
  if (f.task) out.task = f.task;
  if (f.owner) out.owner = f.owner;
  const range = RANGES[f.range];
  if (range) out.since = now - range.ms;
  return out;
}
