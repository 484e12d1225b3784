import { useSession, seesAll } from '../context.js';
import { useLive } from '../live.js';
import { TimeChart } from '../components/chart.js';
import { Card, ErrorNote, Loading } from '../components/notice.js';
import { Link } from '../components/link.js';
import { count, duration } from '../format.js';
import type { Attention, Capacity, QueueRow } from '../types.js';
import { useOverviewHistory } from './overview-history.js';

/** What the fleet is doing, at a glance: queues, live charts, capacity, and what needs a look. */
export function Overview() {
  const { api, me } = useSession();
  const queues = useLive((signal) => api.get<{ queues: QueueRow[] }>('/api/queues', {}, signal), [], {
    events: ['changed', 'enqueued', 'cancelled'],
    pollMs: 5000,
    throttleMs: 2000,
  });
  const capacity = useLive((signal) => api.get<Capacity>('/api/capacity', {}, signal), [], {
    events: ['capacity'],
    pollMs: 10_000,
    throttleMs: 2000,
  });
  const attention = useLive((signal) => api.get<Attention>('/api/attention', {}, signal), [], {
    events: ['changed', 'capacity'],
    pollMs: 10_000,
    throttleMs: 5000,
  });
  const history = useOverviewHistory();
  const times = history.samples.map((s) => s.at / 1000);

  return (
    <div class="page overview">
      <h1>Overview</h1>
      <p class="muted">
        {seesAll(me) ? 'The whole fleet' : `Your jobs (${me.name})`}, live.
        {history.source === 'page' && ' Charts start when this tab opened.'}
      </p>
      <AttentionCard live={attention.data} error={attention.error} fleetWide={seesAll(me)} />
      <div class="grid charts">
        <TimeChart
          title="Throughput (jobs finished per second)"
          times={times}
          series={[
            { label: 'finished/s', color: 'var(--accent)', values: history.samples.map((s) => s.finishedPerSec) },
          ]}
        />
        <TimeChart
          title="Wait (the oldest queued job's age, seconds)"
          times={times}
          unit=" s"
          series={[
            {
              label: 'oldest wait',
              color: 'var(--warn)',
              values: history.samples.map((s) => (s.oldestQueuedAgeMs === null ? 0 : s.oldestQueuedAgeMs / 1000)),
            },
          ]}
        />
        <TimeChart
          title="Jobs queued and running"
          times={times}
          series={[
            { label: 'queued', color: 'var(--queued)', values: history.samples.map((s) => s.queued) },
            { label: 'running', color: 'var(--running)', values: history.samples.map((s) => s.running) },
          ]}
        />
      </div>
      <ErrorNote error={history.error} />
      <div class="grid two">
        <QueuesCard live={queues.data} error={queues.error} />
        <CapacityCard live={capacity.data} error={capacity.error} />
      </div>
    </div>
  );
}

function QueuesCard(props: { live: { queues: QueueRow[] } | null; error: unknown }) {
  return (
    <Card title="Queues" id="queues-title">
      <ErrorNote error={props.error} />
      {!props.live ? (
        <Loading what="queues" />
      ) : props.live.queues.length === 0 ? (
        <p class="muted">No queues yet: submit a job and its queue appears here.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Queue</th>
              <th scope="col" class="num">
                Pending
              </th>
              <th scope="col" class="num">
                Running
              </th>
              <th scope="col" class="num">
                Failed
              </th>
              <th scope="col" class="num">
                Succeeded
              </th>
              <th scope="col" class="num">
                Oldest wait
              </th>
            </tr>
          </thead>
          <tbody>
            {props.live.queues.map((q) => {
              const c = (s: string): number => q.counts[s] ?? 0;
              const link = (state: string): string => `/jobs?queue=${encodeURIComponent(q.name)}&state=${state}`;
              return (
                <tr key={q.name}>
                  <th scope="row">
                    <Link href={`/jobs?queue=${encodeURIComponent(q.name)}`}>{q.name}</Link>
                  </th>
                  <td class="num">
                    <Link href={link('queued')}>{count(c('queued') + c('delayed'))}</Link>
                  </td>
                  <td class="num">
                    <Link href={link('running')}>{count(c('running') + c('assigned'))}</Link>
                  </td>
                  <td class={`num ${c('failed') ? 'bad' : ''}`}>
                    <Link href={link('failed')}>{count(c('failed'))}</Link>
                  </td>
                  <td class="num">{count(c('succeeded'))}</td>
                  <td class="num">{duration(q.oldestQueuedAgeMs)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Card>
  );
}

function CapacityCard(props: { live: Capacity | null; error: unknown }) {
  const r = props.live?.result;
  return (
    <Card title="Agents and capacity" id="capacity-title">
      <ErrorNote error={props.error} />
      {!r ? (
        <Loading what="capacity" />
      ) : (
        <>
          <Meter label="Slots in use" used={r.totals.used} total={r.totals.capacity} />
          {r.gpus.total > 0 && <Meter label="GPUs in use" used={r.gpus.used} total={r.gpus.total} />}
          {r.totals.capacity === 0 && <p class="notice warn">No agent is connected: jobs will wait until one joins.</p>}
          <ul class="plain">
            {r.slots.map((p) => (
              <li key={p.name}>
                pool <strong>{p.name}</strong>: {p.used}/{p.capacity} slots used, {p.available} free
              </li>
            ))}
          </ul>
          <Link href="/agents">Agents →</Link>
        </>
      )}
    </Card>
  );
}

export function Meter(props: { label: string; used: number; total: number }) {
  return (
    <div class="meter">
      <span>
        {props.label}: <strong>{count(props.used)}</strong> of {count(props.total)}
      </span>
      <progress max={Math.max(props.total, 1)} value={props.used} aria-label={props.label} />
    </div>
  );
}

function AttentionCard(props: { live: Attention | null; error: unknown; fleetWide: boolean }) {
  const a = props.live;
  if (props.error) return <ErrorNote error={props.error} />;
  if (!a) return null;
  const items = [];
  if (a.deadLettered > 0)
    items.push(
      <li key="dead">
        <Link href="/jobs?state=failed">{count(a.deadLettered)} dead-lettered jobs</Link> (failed with every attempt
        spent)
      </li>,
    );
  for (const g of a.unhealthyGpus)
    items.push(
      <li key={`gpu-${g.agentId}-${g.index}`}>
        GPU {g.index} of agent <Link href="/agents">{g.agentName}</Link> is unhealthy{g.reason ? `: ${g.reason}` : ''}
      </li>,
    );
  if (a.strandedGpus > 0)
    items.push(
      <li key="stranded">
        {count(a.strandedGpus)} GPUs are free but too scattered for the GPU jobs waiting (stranded)
      </li>,
    );
  for (const b of a.blocked)
    items.push(
      <li key={`blocked-${b.reason}`}>
        {count(b.count)} queued jobs wait for a reason other than capacity: <code>{b.reason}</code>
        {b.jobIds[0] && (
          <>
            {' '}
            (e.g. <Link href={`/jobs/${b.jobIds[0]}`}>{b.jobIds[0]}</Link>)
          </>
        )}
      </li>,
    );
  return (
    <section class={`card attention ${items.length ? 'warn' : 'ok'}`} aria-labelledby="attention-title">
      <h2 id="attention-title">Needs attention</h2>
      {items.length ? (
        <ul>{items}</ul>
      ) : (
        <p>Nothing needs attention: no dead letters, no unhealthy GPUs, nothing stuck.</p>
      )}
    </section>
  );
}
