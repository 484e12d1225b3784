import { useState } from 'preact/hooks';
import { describeError } from '../api.js';
import { mayChange, useSession } from '../context.js';
import { useLive } from '../live.js';
import { navigate } from '../router.js';
import { Link } from '../components/link.js';
import { Card, ErrorNote, Loading } from '../components/notice.js';
import { StateBadge } from '../components/state-badge.js';
import { time } from '../format.js';
import { layoutDag } from './dag-layout.js';
import type { WorkflowJson } from './workflows.js';

interface StepJson {
  step: string;
  jobId: string;
  task: string;
  needs: string[];
  state: string;
  attempts: number;
  error: { code: string; message: string } | null;
}

/** Steps drawn at most: a 10 000-step workflow is listed, not drawn. */
const DRAWN = 300;
const W = 150;
const H = 34;
const GAP_X = 50;
const GAP_Y = 12;

export function WorkflowDetail(props: { id: string }) {
  const { api, me } = useSession();
  const live = useLive(
    (signal) =>
      api.get<WorkflowJson & { steps: StepJson[]; stepsCursor: string | null }>(
        `/api/workflows/${props.id}`,
        { stepsLimit: 1000 },
        signal,
      ),
    [props.id],
    { events: ['changed', 'enqueued', 'cancelled'], pollMs: 5000 },
  );
  const [selected, setSelected] = useState<string | null>(null);
  const [action, setAction] = useState<{ busy: boolean; error?: string }>({ busy: false });
  const w = live.data;
  if (!w)
    return (
      <div class="page">
        <h1>Workflow {props.id}</h1>
        {live.error ? <ErrorNote error={live.error} /> : <Loading what="the workflow" />}
      </div>
    );

  const act = async (path: string, body: unknown = {}): Promise<void> => {
    setAction({ busy: true });
    try {
      await api.post(path, body);
      setAction({ busy: false });
      live.reload();
    } catch (err) {
      setAction({ busy: false, error: describeError(err) });
    }
  };
  const drawn = w.steps.slice(0, DRAWN);
  const { placed, columns, rows } = layoutDag(drawn);
  const pick = w.steps.find((s) => s.step === selected) ?? null;

  return (
    <div class="page">
      <p class="crumbs">
        <Link href="/workflows">Workflows</Link> /
      </p>
      <h1>
        {w.name ?? w.id} <StateBadge state={w.state} />
      </h1>
      <p class="muted">
        <span class="mono">{w.id}</span> · {w.owner} · {w.counts.steps} steps · created {time(w.createdAt)} · on failure{' '}
        {w.onFailure}
      </p>
      <div class="actions">
        {mayChange(me) && w.state === 'running' && (
          <button
            type="button"
            class="danger"
            disabled={action.busy}
            onClick={() => void act(`/api/workflows/${w.id}/cancel`)}
          >
            Cancel workflow
          </button>
        )}
        {mayChange(me) && w.state !== 'running' && w.state !== 'succeeded' && (
          <button type="button" disabled={action.busy} onClick={() => void act(`/api/workflows/${w.id}/retry`)}>
            Retry what did not succeed
          </button>
        )}
        {action.error && (
          <span class="notice inline error" role="alert">
            {action.error}
          </span>
        )}
      </div>
      <Card title="Steps" id="dag-title">
        {w.steps.length > DRAWN && (
          <p class="muted small">The first {DRAWN} steps are drawn; every step is listed below.</p>
        )}
        <div class="dag" role="group" aria-label="Workflow graph">
          <svg width={columns * (W + GAP_X)} height={rows * (H + GAP_Y)}>
            {drawn.flatMap((s) =>
              s.needs.map((n) => {
                const a = placed.get(n);
                const b = placed.get(s.step);
                if (!a || !b) return null;
                const x1 = a.column * (W + GAP_X) + W;
                const y1 = a.row * (H + GAP_Y) + H / 2;
                const x2 = b.column * (W + GAP_X);
                const y2 = b.row * (H + GAP_Y) + H / 2;
                return (
                  <path
                    key={`${n}->${s.step}`}
                    class="edge"
                    d={`M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}`}
                  />
                );
              }),
            )}
            {drawn.map((s) => {
              const p = placed.get(s.step);
              if (!p) return null;
              return (
                <g
                  key={s.step}
                  class={`node state-${s.state} ${selected === s.step ? 'selected' : ''}`}
                  transform={`translate(${p.column * (W + GAP_X)},${p.row * (H + GAP_Y)})`}
                  tabIndex={0}
                  role="button"
                  aria-label={`step ${s.step}: ${s.state}`}
                  onClick={() => setSelected(s.step)}
                  onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && setSelected(s.step)}
                >
                  <rect width={W} height={H} rx={6} />
                  <text x={8} y={14}>
                    {s.step.length > 20 ? `${s.step.slice(0, 19)}…` : s.step}
                  </text>
                  <text x={8} y={28} class="sub">
                    {s.state}
                  </text>
                </g>
              );
            })}
          </svg>
        </div>
      </Card>
      {pick && (
        <Card title={`Step ${pick.step}`} id="step-title">
          <p>
            <StateBadge state={pick.state} /> task <code>{pick.task}</code>, {pick.attempts} attempt(s)
            {pick.needs.length > 0 && <>, needs {pick.needs.join(', ')}</>}
          </p>
          {pick.error && (
            <p class="notice error">
              <code>{pick.error.code}</code> {pick.error.message}
            </p>
          )}
          <div class="actions">
            <button type="button" onClick={() => navigate(`/jobs/${pick.jobId}`)}>
              Open its job
            </button>
            {mayChange(me) && w.state !== 'running' && (
              <button
                type="button"
                disabled={action.busy}
                onClick={() => void act(`/api/workflows/${w.id}/retry`, { from: pick.step })}
              >
                Retry from this step
              </button>
            )}
          </div>
        </Card>
      )}
      <Card title="All steps" id="steps-title">
        <table>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">State</th>
              <th scope="col">Task</th>
              <th scope="col">Needs</th>
            </tr>
          </thead>
          <tbody>
            {w.steps.map((s) => (
              <tr key={s.step}>
                <td>
                  <Link href={`/jobs/${s.jobId}`}>{s.step}</Link>
                </td>
                <td>
                  <StateBadge state={s.state} />
                </td>
                <td>{s.task}</td>
                <td>{s.needs.join(', ') || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {w.stepsCursor && <p class="muted small">The first 1 000 steps are listed; the API pages through the rest.</p>}
      </Card>
    </div>
  );
}
