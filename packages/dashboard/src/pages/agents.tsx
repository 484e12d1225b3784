import { seesAll, useSession } from '../context.js';
import { useLive } from '../live.js';
import { Link } from '../components/link.js';
import { Card, ErrorNote, Loading } from '../components/notice.js';
import { ago, count } from '../format.js';
import type { Agent, Capacity, Gpu } from '../types.js';
import { Meter } from './overview.js';

/** The fleet: each agent's slots and a grid of its GPUs with health and the job on each. */
export function Agents() {
  const { api, me } = useSession();
  const fleet = seesAll(me);
  const capacity = useLive((signal) => api.get<Capacity>('/api/capacity', {}, signal), [], {
    events: ['capacity'],
    pollMs: 10_000,
  });
  const agents = useLive(
    (signal) => (fleet ? api.get<{ agents: Agent[] }>('/api/agents', {}, signal) : Promise.resolve({ agents: [] })),
    [fleet],
    { events: ['capacity', 'changed'], pollMs: 5000 },
  );
  const c = capacity.data?.result;
  return (
    <div class="page">
      <h1>Agents and capacity</h1>
      <ErrorNote error={capacity.error} />
      {c && (
        <div class="grid two">
          <Meter label="Slots in use" used={c.totals.used} total={c.totals.capacity} />
          <Meter label="GPUs in use" used={c.gpus.used} total={c.gpus.total} />
        </div>
      )}
      {!fleet && (
        <p class="muted">
          Agents name hosts and everyone's running jobs, so only admins and viewers see them one by one.
        </p>
      )}
      {fleet && <ErrorNote error={agents.error} />}
      {fleet && !agents.data && !agents.error && <Loading what="agents" />}
      {fleet && agents.data?.agents.length === 0 && (
        <p class="notice warn">
          No agent is connected. Start one with <code>npx baton agent --server URL --token TOKEN</code>.
        </p>
      )}
      <div class="agents">
        {agents.data?.agents.map((a) => (
          <AgentCard key={a.id} agent={a} />
        ))}
      </div>
    </div>
  );
}

function AgentCard(props: { agent: Agent }) {
  const a = props.agent;
  return (
    <Card title={a.name} id={`agent-${a.id}`} class={`agent agent-${a.state}`}>
      <p class="small">
        <span class={`badge agent-state-${a.state}`}>{a.state}</span> pool <strong>{a.pool}</strong> · queues{' '}
        {a.queues.join(', ')} · seen {ago(a.lastSeenAt)}
      </p>
      <Meter label="Slots" used={a.used} total={a.slots} />
      {a.gpus.length > 0 && (
        <ul class="gpus" aria-label={`GPUs of ${a.name}`}>
          {a.gpus.map((g) => (
            <GpuCell key={g.index} gpu={g} />
          ))}
        </ul>
      )}
      <p class="small muted">
        {count(a.jobs.length)} job(s){a.cpu !== null ? ` · ${a.cpu} CPU` : ''}
        {a.memoryMb !== null ? ` · ${Math.round(a.memoryMb / 1024)} GiB` : ''}
        {a.tags.length ? ` · tags ${a.tags.join(', ')}` : ''}
      </p>
    </Card>
  );
}

function GpuCell(props: { gpu: Gpu }) {
  const g = props.gpu;
  const state = !g.healthy ? 'unhealthy' : g.jobId ? 'busy' : 'free';
  const label = `GPU ${g.index}${g.name ? ` (${g.name})` : ''}: ${state}${g.reason ? `, ${g.reason}` : ''}`;
  return (
    <li class={`gpu gpu-${state}`} title={label}>
      <span class="sr-only">{label}</span>
      <span aria-hidden="true">{g.index}</span>
      {g.jobId && (
        <Link href={`/jobs/${g.jobId}`}>
          <span class="sr-only">job on GPU {g.index}</span>
          <span aria-hidden="true">job</span>
        </Link>
      )}
    </li>
  );
}
