import { useEffect, useState } from 'preact/hooks';
import { mayChange, seesAll, useSession } from '../context.js';
import { useLive } from '../live.js';
import { setQuery, useLocation } from '../router.js';
import { Link } from '../components/link.js';
import { ErrorNote } from '../components/notice.js';
import { StateBadge } from '../components/state-badge.js';
import { JOB_STATES, ago, between, count } from '../format.js';
import type { JobPage } from '../types.js';
import type { JobFilters } from './job-filters.js';
import { RANGES, apiFilter, filtersFrom } from './job-filters.js';
import { BulkActions } from './jobs-bulk.js';

const PAGE_SIZE = 50;

/**
 * Every job the signed-in user may see, newest first, a page at a time from the server (cursor
 * pagination: the store reads one page, never the whole table), with counts per state.
 */
export function Jobs() {
  const { api, me } = useSession();
  const { query } = useLocation();
  const filters = filtersFrom(query);
  const key = JSON.stringify(filters);
  // Cursors of the pages before this one: Previous pops, Next pushes.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => setCursors([]), [key]);

  const page = useLive(
    (signal) => api.get<JobPage>('/api/jobs', { ...apiFilter(filters), limit: PAGE_SIZE, cursor }, signal),
    [key, cursor],
    { events: ['changed', 'enqueued', 'cancelled'], pollMs: 15_000 },
  );
  const counts = useLive(
    (signal) =>
      api.get<{ counts: Record<string, number>; total: number }>(
        '/api/jobs/counts',
        { queue: filters.queue, owner: filters.owner },
        signal,
      ),
    [filters.queue, filters.owner],
    { events: ['changed', 'enqueued', 'cancelled'], pollMs: 15_000, throttleMs: 2000 },
  );

  const set = (changes: Partial<JobFilters>): void => setQuery(changes, { replace: true });
  const narrowed = Boolean(filters.task || filters.range);

  return (
    <div class="page jobs">
      <h1>Jobs</h1>
      <nav class="tabs" aria-label="Job states">
        <StateTab label="All" state="" current={filters.state} n={counts.data?.total} />
        {JOB_STATES.map((s) => (
          <StateTab key={s} label={s} state={s} current={filters.state} n={counts.data?.counts[s]} />
        ))}
      </nav>
      {narrowed && (
        <p class="muted small">
          Counts are of the queue and owner chosen; the task and time filters narrow the list below.
        </p>
      )}
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <TextFilter label="Queue" name="queue" value={filters.queue} onChange={(v) => set({ queue: v })} />
        <TextFilter label="Task" name="task" value={filters.task} onChange={(v) => set({ task: v })} />
        {seesAll(me) && (
          <TextFilter label="Owner" name="owner" value={filters.owner} onChange={(v) => set({ owner: v })} />
        )}
        <label>
          Created
          <select value={filters.range} onChange={(e) => set({ range: e.currentTarget.value })}>
            <option value="">any time</option>
            {Object.entries(RANGES).map(([k, r]) => (
              <option key={k} value={k}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        {(filters.queue || filters.task || filters.owner || filters.range || filters.state) && (
          <button type="button" onClick={() => set({ state: '', queue: '', task: '', owner: '', range: '' })}>
            Clear filters
          </button>
        )}
      </form>
      {mayChange(me) && <BulkActions filters={filters} onDone={page.reload} />}
      <ErrorNote error={page.error} />
      <table class="jobs-table">
        <caption class="sr-only">Jobs, newest first</caption>
        <colgroup>
          <col class="w-id" />
          <col class="w-state" />
          <col />
          <col />
          {seesAll(me) && <col />}
          <col class="w-time" />
          <col class="w-time" />
        </colgroup>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">State</th>
            <th scope="col">Task</th>
            <th scope="col">Queue</th>
            {seesAll(me) && <th scope="col">Owner</th>}
            <th scope="col">Created</th>
            <th scope="col">Ran for</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.jobs.map((j) => (
            <tr key={j.id}>
              <td class="mono">
                <Link href={`/jobs/${j.id}`}>{j.id}</Link>
              </td>
              <td>
                <StateBadge state={j.state} />
                {j.state === 'running' && j.progress !== null && j.progress > 0 && (
                  <span class="muted small"> {Math.round(j.progress)}%</span>
                )}
              </td>
              <td>{j.task}</td>
              <td>{j.queue}</td>
              {seesAll(me) && <td>{j.owner}</td>}
              <td title={j.createdAt}>{ago(j.createdAt)}</td>
              <td>{j.startedAt ? between(j.startedAt, j.finishedAt) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data && page.data.jobs.length === 0 && (
        <p class="muted">
          {page.data.nextCursor
            ? 'No matches on this stretch of the store; there are more further on.'
            : 'No jobs match.'}
        </p>
      )}
      {!page.data && !page.error && <p class="muted">Loading jobs…</p>}
      <div class="pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          ← Newer
        </button>
        <span class="muted">Page {cursors.length + 1}</span>
        <button
          type="button"
          disabled={!page.data?.nextCursor}
          onClick={() => page.data?.nextCursor && setCursors([...cursors, page.data.nextCursor])}
        >
          Older →
        </button>
      </div>
    </div>
  );
}

function StateTab(props: { label: string; state: string; current: string; n: number | undefined }) {
  const active = props.current === props.state;
  return (
    <button
      type="button"
      class={`tab ${active ? 'active' : ''}`}
      aria-pressed={active}
      onClick={() => setQuery({ state: props.state }, { replace: true })}
    >
      {props.label} <span class="count">{count(props.n)}</span>
    </button>
  );
}

/** A text filter applied when typing pauses (or on Enter), not on every keystroke. */
function TextFilter(props: { label: string; name: string; value: string; onChange: (v: string) => void }) {
  const [text, setText] = useState(props.value);
  useEffect(() => setText(props.value), [props.value]);
  useEffect(() => {
    if (text === props.value) return;
    const t = setTimeout(() => props.onChange(text.trim()), 400);
    return () => clearTimeout(t);
  }, [text]);
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        type="search"
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => e.key === 'Enter' && props.onChange(text.trim())}
        placeholder="any"
      />
    </label>
  );
}
