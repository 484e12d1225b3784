import { useState } from 'preact/hooks';
import { describeError } from '../api.js';
import { mayChange, useSession } from '../context.js';
import { useLive } from '../live.js';
import { navigate } from '../router.js';
import { Link } from '../components/link.js';
import { Card, ErrorNote, Loading } from '../components/notice.js';
import { StateBadge } from '../components/state-badge.js';
import { FINAL_STATES, between, bytes, duration, previewJson, time } from '../format.js';
import type { Attempt, JobDetailJson } from '../types.js';
import { JobLogs } from './job-logs.js';

/** One job: what it is, where it stands and why, its attempts, output, and Cancel / Retry. */
export function JobDetail(props: { id: string }) {
  const { api, me } = useSession();
  const job = useLive((signal) => api.get<JobDetailJson>(`/api/jobs/${props.id}`, {}, signal), [props.id], {
    events: ['changed', 'cancelled', 'logs'],
    match: (e) => e.type === 'changed' || ('jobId' in e && e.jobId === props.id),
    pollMs: 5000,
  });
  const [action, setAction] = useState<{ busy: boolean; error?: string; note?: string }>({ busy: false });
  const j = job.data;

  if (!j) {
    return (
      <div class="page">
        <h1>Job {props.id}</h1>
        {job.error ? <ErrorNote error={job.error} /> : <Loading what="the job" />}
      </div>
    );
  }
  const final = FINAL_STATES.includes(j.state);

  const cancel = async (): Promise<void> => {
    setAction({ busy: true });
    try {
      await api.post(`/api/jobs/${j.id}/cancel`);
      setAction({ busy: false, note: 'Cancelled.' });
      job.reload();
    } catch (err) {
      setAction({ busy: false, error: describeError(err) });
    }
  };
  const retry = async (): Promise<void> => {
    setAction({ busy: true });
    try {
      const r = await api.post<{ job: { id: string } }>(`/api/jobs/${j.id}/retry`);
      navigate(`/jobs/${r.job.id}`);
      setAction({ busy: false });
    } catch (err) {
      setAction({ busy: false, error: describeError(err) });
    }
  };

  return (
    <div class="page job-detail">
      <p class="crumbs">
        <Link href="/jobs">Jobs</Link> /
      </p>
      <h1>
        <span class="mono">{j.id}</span> <StateBadge state={j.state} />
      </h1>
      <div class="actions">
        {mayChange(me) && !final && (
          <button type="button" class="danger" disabled={action.busy} onClick={() => void cancel()}>
            Cancel job
          </button>
        )}
        {mayChange(me) && final && !j.workflow && (
          <button type="button" disabled={action.busy} onClick={() => void retry()}>
            Retry as a new job
          </button>
        )}
        {j.workflow && (
          <Link href={`/workflows/${j.workflow.id}`}>
            Step <code>{j.workflow.step}</code> of its workflow →
          </Link>
        )}
        {action.note && <span role="status">{action.note}</span>}
        {action.error && (
          <span class="notice inline error" role="alert">
            {action.error}
          </span>
        )}
      </div>
      {j.pendingReason && (
        <p class="notice warn" role="status">
          <strong>Waiting:</strong> {j.pendingReason.message} <code>{j.pendingReason.code}</code>
        </p>
      )}
      {j.state === 'running' && (
        <div class="meter">
          <span>Progress: {j.progress === null ? 'not reported' : `${Math.round(j.progress)}%`}</span>
          <progress max={100} value={j.progress ?? undefined} aria-label="Progress" />
        </div>
      )}
      {j.error && (
        <p class="notice error">
          <strong>{j.error.code}</strong>: {j.error.message}
        </p>
      )}
      <div class="grid two">
        <Card title="Job" id="facts-title">
          <dl class="facts">
            <dt>Task</dt>
            <dd>{j.task}</dd>
            <dt>Queue</dt>
            <dd>{j.queue}</dd>
            <dt>Owner</dt>
            <dd>{j.owner}</dd>
            <dt>Priority</dt>
            <dd>
              {j.priority}
              {j.priorityLevel ? ` (${j.priorityLevel})` : ''}
            </dd>
            <dt>Resources</dt>
            <dd>
              {j.resources.slots} slot{j.resources.slots === 1 ? '' : 's'}
              {j.resources.gpus ? `, ${j.resources.gpus} GPU` : ''}
              {j.resources.cpu ? `, ${j.resources.cpu} CPU` : ''}
              {j.resources.memoryMb ? `, ${j.resources.memoryMb} MB` : ''}
            </dd>
            <dt>Attempts</dt>
            <dd>
              {j.attempts} of {j.maxAttempts}
            </dd>
            <dt>Expected run</dt>
            <dd>
              {j.expectedRuntimeMs === null ? 'unknown' : duration(j.expectedRuntimeMs)}{' '}
              <span class="muted">({j.expectedRuntimeSource})</span>
            </dd>
            <dt>Created</dt>
            <dd>{time(j.createdAt)}</dd>
            <dt>Started</dt>
            <dd>{time(j.startedAt)}</dd>
            <dt>Finished</dt>
            <dd>{time(j.finishedAt)}</dd>
            {j.agentId && (
              <>
                <dt>Agent</dt>
                <dd class="mono">
                  {j.agentId}
                  {j.gpus && j.gpus.length > 0 ? `, GPUs ${j.gpus.join(', ')}` : ''}
                </dd>
              </>
            )}
          </dl>
        </Card>
        <Card title="Attempts" id="attempts-title">
          <Timeline attempts={j.history} />
        </Card>
      </div>
      <div class="grid two">
        <JsonCard title="Payload" value={j.payload} />
        <JsonCard title="Result" value={j.result ?? null} />
      </div>
      <JobLogs jobId={j.id} final={final} />
    </div>
  );
}

function Timeline(props: { attempts: Attempt[] }) {
  if (props.attempts.length === 0) return <p class="muted">Not run yet.</p>;
  return (
    <ol class="timeline">
      {props.attempts.map((a) => (
        <li key={a.attempt} class={`outcome-${a.outcome ?? 'running'}`}>
          <strong>Attempt {a.attempt}</strong>: {a.outcome ?? 'running'}
          <span class="muted">
            {' '}
            on {a.agentId ?? '—'}, assigned {time(a.assignedAt)}, ran{' '}
            {between(a.startedAt ?? a.assignedAt, a.finishedAt)}
          </span>
          {a.error && (
            <div class="small">
              <code>{a.error.code}</code> {a.error.message}
            </div>
          )}
        </li>
      ))}
    </ol>
  );
}

/** A payload or result: shown cut at 20 000 characters, so a huge one cannot hang the page. */
function JsonCard(props: { title: string; value: unknown }) {
  const preview = previewJson(props.value);
  return (
    <Card title={props.title} id={`${props.title.toLowerCase()}-title`}>
      {preview.truncated && (
        <p class="muted small">
          {bytes(preview.size)} in all; the first 20 000 characters are shown. The whole is at the API,{' '}
          <code>GET /api/jobs/:id</code>.
        </p>
      )}
      <pre class="json" tabIndex={0}>
        {preview.text}
      </pre>
    </Card>
  );
}
