import { useEffect, useState } from 'preact/hooks';
import { seesAll, useSession } from '../context.js';
import { useLive } from '../live.js';
import { setQuery, useLocation } from '../router.js';
import { Link } from '../components/link.js';
import { ErrorNote } from '../components/notice.js';
import { StateBadge } from '../components/state-badge.js';
import { ago } from '../format.js';

export interface WorkflowJson {
  id: string;
  name: string | null;
  owner: string;
  state: string;
  onFailure: string;
  counts: { steps: number; succeeded: number; failed: number; cancelled: number; skipped: number };
  createdAt: string;
  finishedAt: string | null;
}

const STATES = ['running', 'succeeded', 'failed', 'cancelled'];

export function Workflows() {
  const { api, me } = useSession();
  const { query } = useLocation();
  const state = query.get('state') ?? '';
  const [cursors, setCursors] = useState<string[]>([]);
  useEffect(() => setCursors([]), [state]);
  const cursor = cursors[cursors.length - 1];
  const page = useLive(
    (signal) =>
      api.get<{ workflows: WorkflowJson[]; nextCursor: string | null }>(
        '/api/workflows',
        { state, limit: 50, cursor },
        signal,
      ),
    [state, cursor],
    { events: ['changed', 'enqueued', 'cancelled'], pollMs: 15_000 },
  );
  return (
    <div class="page">
      <h1>Workflows</h1>
      <nav class="tabs" aria-label="Workflow states">
        {['', ...STATES].map((s) => (
          <button
            type="button"
            key={s}
            class={`tab ${state === s ? 'active' : ''}`}
            aria-pressed={state === s}
            onClick={() => setQuery({ state: s }, { replace: true })}
          >
            {s || 'All'}
          </button>
        ))}
      </nav>
      <ErrorNote error={page.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Workflow</th>
            <th scope="col">State</th>
            <th scope="col">Steps done</th>
            {seesAll(me) && <th scope="col">Owner</th>}
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.workflows.map((w) => {
            const done = w.counts.succeeded + w.counts.failed + w.counts.cancelled + w.counts.skipped;
            return (
              <tr key={w.id}>
                <td>
                  <Link href={`/workflows/${w.id}`}>{w.name ?? w.id}</Link>
                </td>
                <td>
                  <StateBadge state={w.state} />
                </td>
                <td>
                  <progress max={Math.max(1, w.counts.steps)} value={done} aria-label="steps done" /> {done}/
                  {w.counts.steps}
                </td>
                {seesAll(me) && <td>{w.owner}</td>}
                <td>{ago(w.createdAt)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {page.data?.workflows.length === 0 && <p class="muted">No workflows.</p>}
      <div class="pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          ← Newer
        </button>
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
