import type { Transport } from './transport.js';
import { sleep } from './transport.js';
import type {
  SubmittedWorkflow,
  WaitForWorkflowOptions,
  WorkflowDetailView,
  WorkflowListQuery,
  WorkflowRequest,
  WorkflowStepsPage,
  WorkflowView,
} from './workflow-types.js';

/** The `/api/workflows` calls, behind `BatonClient`'s workflow methods. */
export class WorkflowCalls {
  constructor(
    private readonly http: Transport,
    /** Gives a submission an idempotency key while retries are on (see BatonClient). */
    private readonly keyed: <J extends { idempotencyKey?: string }>(body: J) => J,
  ) {}

  submit(workflow: WorkflowRequest): Promise<SubmittedWorkflow> {
    const body = this.keyed(workflow);
    return this.http.request('POST', '/api/workflows', body, undefined, body.idempotencyKey !== undefined);
  }

  get(id: string, page: WorkflowStepsPage = {}, signal?: AbortSignal): Promise<WorkflowDetailView> {
    return this.http.request('GET', `/api/workflows/${encodeURIComponent(id)}${query(page)}`, undefined, signal);
  }

  list(q: WorkflowListQuery = {}): Promise<{ workflows: WorkflowView[]; nextCursor: string | null }> {
    return this.http.request('GET', `/api/workflows${query(q)}`);
  }

  cancel(id: string): Promise<WorkflowView> {
    return this.http.request('POST', `/api/workflows/${encodeURIComponent(id)}/cancel`);
  }

  retry(id: string, from?: string): Promise<WorkflowView> {
    const body = from === undefined ? {} : { from };
    return this.http.request('POST', `/api/workflows/${encodeURIComponent(id)}/retry`, body);
  }

  async wait(id: string, options: WaitForWorkflowOptions = {}): Promise<WorkflowDetailView> {
    const { pollMs = 250, signal, onUpdate } = options;
    let last = '';
    for (;;) {
      signal?.throwIfAborted();
      const workflow = await this.get(id, {}, signal);
      const seen = `${workflow.state}:${workflow.steps.map((s) => `${s.state}/${s.attempts}`).join(',')}:${JSON.stringify(workflow.counts)}`;
      if (seen !== last) {
        last = seen;
        onUpdate?.(workflow);
      }
      if (workflow.state !== 'running') return workflow;
      await sleep(pollMs, signal);
    }
  }
}

function query(params: object): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
  const qs = search.toString();
  return qs ? `?${qs}` : '';
}
