import { useSession } from '../context.js';
import { useLive } from '../live.js';
import { Link } from '../components/link.js';
import { ErrorNote, Loading } from '../components/notice.js';
import { count } from '../format.js';
import type { UserJson } from '../types.js';

interface Quota {
  maxRunningJobs: number | null;
  maxGpus: number | null;
  maxQueuedJobs: number | null;
  submitRatePerSec: number | null;
}

interface Row {
  user: UserJson;
  quota: Quota | null;
  source: string;
  counts: Record<string, number>;
}

/** Rows read with their quota and usage; a fleet with more users lists the rest without them. */
const DETAILED = 100;

/**
 * Users (admins and viewers): role, weight and the fair share it gives against everyone's
 * weights, quota, and what each holds now (running) and waits for (queued).
 */
export function Users() {
  const { api } = useSession();
  const live = useLive(
    async (signal) => {
      const { users } = await api.get<{ users: UserJson[] }>('/api/users', {}, signal);
      const rows = await Promise.all(
        users.slice(0, DETAILED).map(async (user): Promise<Row> => {
          const [q, c] = await Promise.all([
            api.get<{ quota: Quota; source: string }>(`/api/users/${encodeURIComponent(user.name)}/quota`, {}, signal),
            api.get<{ counts: Record<string, number> }>('/api/jobs/counts', { owner: user.name }, signal),
          ]);
          return { user, quota: q.quota, source: q.source, counts: c.counts };
        }),
      );
      return { rows, more: users.slice(DETAILED) };
    },
    [],
    { events: ['changed'], pollMs: 10_000, throttleMs: 5000 },
  );
  const d = live.data;
  const totalWeight = d
    ? [...d.rows.map((r) => r.user.weight), ...d.more.map((u) => u.weight)].reduce((a, b) => a + b, 0)
    : 0;
  const limit = (n: number | null | undefined): string => (n === null || n === undefined ? 'no limit' : count(n));
  return (
    <div class="page">
      <h1>Users and quotas</h1>
      <ErrorNote error={live.error} />
      {!d && !live.error && <Loading what="users" />}
      {d && (
        <table>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col" class="num">
                Weight
              </th>
              <th scope="col" class="num">
                Fair share
              </th>
              <th scope="col" class="num">
                Running
              </th>
              <th scope="col" class="num">
                Queued
              </th>
              <th scope="col">Quota (running · GPUs · queued · submits/s)</th>
            </tr>
          </thead>
          <tbody>
            {d.rows.map((r) => (
              <tr key={r.user.name}>
                <th scope="row">
                  <Link href={`/jobs?owner=${encodeURIComponent(r.user.name)}`}>{r.user.name}</Link>
                </th>
                <td>{r.user.role}</td>
                <td class="num">{r.user.weight}</td>
                <td class="num">{totalWeight ? `${((100 * r.user.weight) / totalWeight).toFixed(1)}%` : '—'}</td>
                <td class="num">{count((r.counts.running ?? 0) + (r.counts.assigned ?? 0))}</td>
                <td class="num">{count((r.counts.queued ?? 0) + (r.counts.delayed ?? 0))}</td>
                <td>
                  {r.quota
                    ? `${limit(r.quota.maxRunningJobs)} · ${limit(r.quota.maxGpus)} · ${limit(r.quota.maxQueuedJobs)} · ${limit(r.quota.submitRatePerSec)}`
                    : '—'}{' '}
                  <span class="muted small">({r.source})</span>
                </td>
              </tr>
            ))}
            {d.more.map((u) => (
              <tr key={u.name}>
                <th scope="row">{u.name}</th>
                <td>{u.role}</td>
                <td class="num">{u.weight}</td>
                <td class="num">{totalWeight ? `${((100 * u.weight) / totalWeight).toFixed(1)}%` : '—'}</td>
                <td colSpan={3} class="muted">
                  (details for the first {DETAILED} users only)
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p class="muted small">
        Fair share is each user's weight against all users' weights: what they get of a busy fleet when everyone has
        work waiting (docs/users.md).
      </p>
    </div>
  );
}
