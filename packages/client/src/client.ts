import { FINAL_STATES, MAX_BULK_JOBS } from '@baton/core';
import type {
  CreatedToken,
  Role,
  NewUser,
  Quota,
  QuotaPatch,
  TokenView,
  UserQuotaView,
  UserView,
  WhoAmI,
} from './account-types.js';
import { checkToken } from './http.js';
import { resolveRetry } from './retry.js';
import type { Method } from './transport.js';
import { Transport, sleep } from './transport.js';
import type {
  AgentView,
  CapacityView,
  ScalingView,
  ClientOptions,
  FollowLogsOptions,
  JobListQuery,
  JobRequest,
  JobView,
  LogChunkView,
  LogsOptions,
  LogsView,
  QueueView,
  SubmitOptions,
  Submitted,
} from './types.js';
import { WorkflowCalls } from './workflow-calls.js';
import { followStream } from './log-stream.js';
import { JobActionCalls } from './job-action-calls.js';
import type {
  AttentionView,
  BulkActionRequest,
  BulkResult,
  JobCounts,
  OverviewHistoryView,
  RetriedJob,
} from './job-action-types.js';
import type { SubmittedWorkflow, WaitForWorkflowOptions, WorkflowDetailView } from './workflow-types.js';
import type { WorkflowListQuery, WorkflowRequest, WorkflowStepsPage, WorkflowView } from './workflow-types.js';

/**
 * The Baton HTTP API as typed calls. `Tasks` maps task names to payload types, e.g.
 * `new BatonClient<PayloadsOf<typeof tasks>>()`, so `submit('resize', payload)` is checked;
 * the default accepts any task name and payload.
 */
export class BatonClient<Tasks extends Record<string, unknown> = Record<string, unknown>> {
  readonly baseUrl: string;
  /** A private field, like the token inside it: logging a client cannot print the token. */
  readonly #http: Transport;
  readonly #workflows: WorkflowCalls;
  readonly #jobActions: JobActionCalls;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? process.env.BATON_SERVER ?? 'http://127.0.0.1:7070').replace(/\/+$/, '');
    if (options.token !== undefined) checkToken(options.token);
    this.#http = new Transport(
      this.baseUrl,
      { token: options.token, user: options.user },
      options.requestTimeoutMs ?? 30_000,
      resolveRetry(options.retry),
    );
    this.#workflows = new WorkflowCalls(this.#http, (body) => this.keyed(body));
    this.#jobActions = new JobActionCalls(this.#http);
  }

  /**
   * The idempotency key a submission goes with: the caller's, or (while retries are on) a
   * fresh one, so that a retried submission creates its job once.
   */
  private keyed<J extends { idempotencyKey?: string }>(job: J): J {
    const { retries, keySubmissions } = this.#http.retry;
    if (job.idempotencyKey !== undefined || retries === 0 || !keySubmissions) return job;
    return { ...job, idempotencyKey: `sdk-${globalThis.crypto.randomUUID()}` };
  }

  /**
   * Submits one job (`POST /api/jobs`). `options.resources` reserves slots, CPU, memory and
   * GPUs on the agent; `options.constraints.tags` limits it to agents carrying every tag.
   */
  submit<K extends keyof Tasks & string>(task: K, payload?: Tasks[K], options: SubmitOptions = {}): Promise<Submitted> {
    const body = this.keyed({ ...options, task, ...(payload !== undefined && { payload }) });
    return this.request<Submitted>('POST', '/api/jobs', body, undefined, body.idempotencyKey !== undefined);
  }

  /** Submits in bulk requests of `chunkSize` (default 1 000, the API's limit); results in input order. */
  async submitMany(jobs: JobRequest[], options: { chunkSize?: number } = {}): Promise<Submitted[]> {
    const chunkSize = options.chunkSize ?? MAX_BULK_JOBS;
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_BULK_JOBS) {
      throw new RangeError(`chunkSize must be an integer from 1 to ${MAX_BULK_JOBS}`);
    }
    const out: Submitted[] = [];
    for (let i = 0; i < jobs.length; i += chunkSize) {
      const chunk = jobs.slice(i, i + chunkSize).map((j) => this.keyed(j));
      const { jobs: created } = await this.request<{ jobs: Submitted[] }>(
        'POST',
        '/api/jobs/bulk',
        { jobs: chunk },
        undefined,
        chunk.every((j) => j.idempotencyKey !== undefined),
      );
      out.push(...created);
    }
    return out;
  }

  /**
   * One job with its attempt `history`, while it is queued its `pendingReason`, and its
   * `expectedRuntimeMs` (with `expectedRuntimeSource`: `limit`, `history` or `none`).
   */
  getJob(id: string): Promise<JobView> {
    return this.request('GET', `/api/jobs/${encodeURIComponent(id)}`);
  }

  listJobs(query: JobListQuery = {}): Promise<{ jobs: JobView[]; nextCursor: string | null }> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const qs = params.toString();
    return this.request('GET', `/api/jobs${qs ? `?${qs}` : ''}`);
  }

  /** Cancels a job; retried only when the server did not do it (503, or no connection). */
  cancel(id: string): Promise<JobView> {
    return this.request('POST', `/api/jobs/${encodeURIComponent(id)}/cancel`);
  }

  /** Jobs by state from the server's kept counts (cheap at any size); a user's own. */
  jobCounts(filter: { queue?: string; owner?: string } = {}): Promise<JobCounts> {
    return this.#jobActions.counts(filter);
  }

  /** Submits a finished job again as a new job. `JOB_NOT_FINISHED` / `WORKFLOW_STEP` (409). */
  retry(id: string): Promise<RetriedJob> {
    return this.#jobActions.retry(id);
  }

  /** Cancels the unfinished jobs a filter matches (`dryRun`: only counts them). */
  bulkCancel(request: BulkActionRequest): Promise<BulkResult> {
    return this.#jobActions.bulk('cancel', request);
  }

  /** Retries the finished jobs (not workflow steps) a filter matches (`dryRun`: only counts them). */
  bulkRetry(request: BulkActionRequest): Promise<BulkResult> {
    return this.#jobActions.bulk('retry', request);
  }

  /** This server's last 30 minutes of job counts, sampled every 5 s (admin or viewer). */
  overviewHistory(): Promise<OverviewHistoryView> {
    return this.#jobActions.overviewHistory();
  }

  /** What needs a look: failed jobs, unhealthy and stranded GPUs, blocked jobs by reason. */
  attention(): Promise<AttentionView> {
    return this.#jobActions.attention();
  }

  async queues(): Promise<QueueView[]> {
    return (await this.request<{ queues: QueueView[] }>('GET', '/api/queues')).queues;
  }

  async tasks(): Promise<{ task: string; queue: string }[]> {
    return (await this.request<{ tasks: { task: string; queue: string }[] }>('GET', '/api/tasks')).tasks;
  }

  /**
   * Agents the server knows (`GET /api/agents`): connected, draining, and disconnected ones it
   * still remembers, each with its slots, GPUs (and the job holding each) and held jobs.
   */
  async agents(): Promise<AgentView[]> {
    return (await this.request<{ agents: AgentView[] }>('GET', '/api/agents')).agents;
  }

  /**
   * The fleet's capacity (`GET /api/capacity`): slots per pool, their totals, and GPUs. Returns
   * the answer's `result`.
   */
  async capacity(): Promise<CapacityView> {
    return (await this.request<{ status: string; result: CapacityView }>('GET', '/api/capacity')).result;
  }

  /**
   * How many agents each pool of the server's `baton.yaml` has and should have, and why
   * (`GET /api/scaling`). `drain` lists agent ids only for an admin.
   */
  async scaling(): Promise<ScalingView> {
    return this.request<ScalingView>('GET', '/api/scaling');
  }

  /**
   * A page of a job's kept output as chunks, oldest first (`GET /api/jobs/:id/logs?format=json`;
   * at most 1 000 chunks and about 1 MiB a page). While `more` is true, read on with
   * `after: lastSeq`. `after` reads on from a `seq` seen before; `stream` keeps one stream.
   * Unknown job: `JOB_NOT_FOUND`; a malformed id: `INVALID_JOB_ID`.
   */
  logs(id: string, options: LogsOptions = {}): Promise<LogsView> {
    const { after, stream } = options;
    const path = `/api/jobs/${encodeURIComponent(id)}/logs${logsQuery({ format: 'json', after, stream })}`;
    return this.request<LogsView>('GET', path, undefined, options.signal);
  }

  /**
   * A job's output as it is written, until the job is final: the kept output first, then new
   * chunks as they arrive (`?follow=true&format=json`, one chunk per NDJSON line). Ends when
   * the server ends the stream. Leaving the loop early closes the connection; aborting
   * `signal` rejects with its reason. Only the first request is bound by `requestTimeoutMs`:
   * the follow itself lasts as long as the job runs. A connection lost midway raises
   * `UNREACHABLE`.
   */
  async *streamLogs(id: string, options: LogsOptions = {}): AsyncGenerator<LogChunkView, void, undefined> {
    const { signal, stream } = options;
    // A plain read first: an unknown job or a stuck server is told within the request timeout
    // (a follow's body lasts as long as the job), and the output so far arrives at once.
    let kept = await this.logs(id, options);
    yield* kept.chunks;
    while (kept.more && kept.lastSeq !== null) {
      kept = await this.logs(id, { ...options, after: kept.lastSeq });
      yield* kept.chunks;
    }
    const after = kept.lastSeq ?? undefined;
    const path = `/api/jobs/${encodeURIComponent(id)}/logs${logsQuery({
      follow: 'true',
      format: 'json',
      ...(after !== undefined && { after }),
      ...(stream !== undefined && { stream }),
    })}`;
    yield* followStream(this.#http, this.baseUrl, path, id, signal);
  }

  /**
   * Follows a job's output until the job is final, calling `onChunk` for each chunk in order
   * (see {@link streamLogs}). Resolves when the server ends the stream, with the `seq` of the
   * last chunk delivered (or `after`, or null when there was none).
   */
  async followLogs(id: string, options: FollowLogsOptions = {}): Promise<number | null> {
    const { onChunk, ...rest } = options;
    let lastSeq = rest.after ?? null;
    for await (const chunk of this.streamLogs(id, rest)) {
      lastSeq = chunk.seq;
      onChunk?.(chunk);
    }
    return lastSeq;
  }

  /**
   * Polls until the job is final (succeeded, failed, cancelled or skipped); `onUpdate` sees every change
   * of state, progress, attempt or pending reason. Aborting `signal` rejects with its reason at once.
   */
  async waitForJob(
    id: string,
    options: { pollMs?: number; signal?: AbortSignal; onUpdate?: (job: JobView) => void } = {},
  ): Promise<JobView> {
    const { pollMs = 200, signal, onUpdate } = options;
    let last = '';
    for (;;) {
      signal?.throwIfAborted();
      const job = await this.request<JobView>('GET', `/api/jobs/${encodeURIComponent(id)}`, undefined, signal);
      const seen = `${job.state}:${job.progress}:${job.attempts}:${job.pendingReason?.code ?? ''}`;
      if (seen !== last) {
        last = seen;
        onUpdate?.(job);
      }
      if (FINAL_STATES.has(job.state)) return job;
      await sleep(pollMs, signal);
    }
  }

  /** Submits a workflow (`defineWorkflow(...).build()` makes one); a bad step is a 400 naming it. */
  submitWorkflow(workflow: WorkflowRequest): Promise<SubmittedWorkflow> {
    return this.#workflows.submit(workflow);
  }

  /** A workflow with a page of its steps (`stepsCursor` reads on). `WORKFLOW_NOT_FOUND` (404). */
  getWorkflow(id: string, page?: WorkflowStepsPage): Promise<WorkflowDetailView> {
    return this.#workflows.get(id, page);
  }

  /** Workflows, newest first: a user's own, or (admin) everyone's or `owner`'s. */
  listWorkflows(query?: WorkflowListQuery): Promise<{ workflows: WorkflowView[]; nextCursor: string | null }> {
    return this.#workflows.list(query);
  }

  /** Cancels every unfinished step. `WORKFLOW_FINISHED` (409) once it has ended. */
  cancelWorkflow(id: string): Promise<WorkflowView> {
    return this.#workflows.cancel(id);
  }

  /** Runs an ended workflow again from step `from` (and what needs it), or its unsuccessful steps. */
  retryWorkflow(id: string, from?: string): Promise<WorkflowView> {
    return this.#workflows.retry(id, from);
  }

  /** Polls until the workflow is no longer `running`, as {@link waitForJob} does for a job. */
  waitForWorkflow(id: string, options?: WaitForWorkflowOptions): Promise<WorkflowDetailView> {
    return this.#workflows.wait(id, options);
  }

  /** Creates a user (admin). `USER_EXISTS` (409) when the name is taken. */
  createUser(user: NewUser): Promise<UserView> {
    return this.request('POST', '/api/users', user, undefined, false);
  }

  async listUsers(): Promise<UserView[]> {
    return (await this.request<{ users: UserView[] }>('GET', '/api/users')).users;
  }

  /** Changes a user's role or weight (admin); fields left out stay. `USER_NOT_FOUND` (404). */
  updateUser(name: string, changes: { role?: Role; weight?: number }): Promise<UserView> {
    return this.request('PATCH', `/api/users/${encodeURIComponent(name)}`, changes);
  }

  /** Deletes a user and their tokens (admin). `USER_NOT_FOUND` (404). */
  deleteUser(name: string): Promise<{ name: string; deleted: true }> {
    return this.request('DELETE', `/api/users/${encodeURIComponent(name)}`);
  }

  /** A new token for `user` (admin, or the user themself); its `token` is never shown again. */
  createToken(user: string): Promise<CreatedToken> {
    return this.request('POST', `/api/users/${encodeURIComponent(user)}/tokens`, undefined, undefined, false);
  }

  async listTokens(user: string): Promise<TokenView[]> {
    return (await this.request<{ tokens: TokenView[] }>('GET', `/api/users/${encodeURIComponent(user)}/tokens`)).tokens;
  }

  /** Revokes a token by its id (admin, or its user). `TOKEN_NOT_FOUND` (404). */
  revokeToken(id: string): Promise<{ id: string; user: string; revoked: true }> {
    return this.request('DELETE', `/api/tokens/${encodeURIComponent(id)}`);
  }

  /** Who this client's token acts as, with the quota that applies (`GET /api/me`). */
  whoami(): Promise<WhoAmI> {
    return this.request('GET', '/api/me');
  }

  /** A user's quota (admin or self): their own, or the default (`source`). */
  getQuota(user: string): Promise<UserQuotaView> {
    return this.request('GET', `/api/users/${encodeURIComponent(user)}/quota`);
  }

  /** Changes a user's own quota (admin): fields given replace (null: unlimited), others stay. */
  setQuota(user: string, patch: QuotaPatch): Promise<UserQuotaView> {
    return this.request('PUT', `/api/users/${encodeURIComponent(user)}/quota`, patch, undefined, true);
  }

  /** Drops a user's own quota (admin): the default applies again. */
  resetQuota(user: string): Promise<UserQuotaView> {
    return this.request('DELETE', `/api/users/${encodeURIComponent(user)}/quota`, undefined, undefined, true);
  }

  async getDefaultQuota(): Promise<Quota> {
    return (await this.request<{ quota: Quota }>('GET', '/api/quota/default')).quota;
  }

  /** Changes the quota of users without their own (admin), as {@link setQuota}. */
  async setDefaultQuota(patch: QuotaPatch): Promise<Quota> {
    return (await this.request<{ quota: Quota }>('PUT', '/api/quota/default', patch, undefined, true)).quota;
  }

  /**
   * One API call, retried while the server cannot serve it for now (see {@link Transport.request}).
   */
  private request<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal, idempotent?: boolean) {
    return this.#http.request<T>(method, path, body, signal, idempotent);
  }

  /** A line of a follow: a chunk, or the error that ended the follow (e.g. `STORE_UNAVAILABLE`). */
}

/** The query string of a logs request, or ''. */
function logsQuery(query: {
  follow?: 'true';
  format?: 'json';
  after?: number | undefined;
  stream?: string | undefined;
}): string {
  const params = new URLSearchParams();
  if (query.follow) params.set('follow', query.follow);
  if (query.format) params.set('format', query.format);
  if (query.after !== undefined) params.set('after', String(query.after));
  if (query.stream !== undefined) params.set('stream', query.stream);
  const qs = params.toString();
  return qs ? `?${qs}` : '';
}
