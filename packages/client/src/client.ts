import { FINAL_STATES, MAX_BULK_JOBS } from '@baton/core';
import { BatonApiError } from './errors.js';
import type { ClientOptions, JobListQuery, JobRequest, JobView, QueueView, SubmitOptions, Submitted } from './types.js';

/**
 * The Baton HTTP API as typed calls. `Tasks` maps task names to payload types, e.g.
 * `new BatonClient<PayloadsOf<typeof tasks>>()`, so `submit('resize', payload)` is checked;
 * the default accepts any task name and payload.
 */
export class BatonClient<Tasks extends Record<string, unknown> = Record<string, unknown>> {
  readonly baseUrl: string;
  private readonly user: string | undefined;
  private readonly requestTimeoutMs: number;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? process.env.BATON_SERVER ?? 'http://127.0.0.1:7070').replace(/\/+$/, '');
    this.user = options.user;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  submit<K extends keyof Tasks & string>(task: K, payload?: Tasks[K], options: SubmitOptions = {}): Promise<Submitted> {
    return this.request<Submitted>('POST', '/api/jobs', {
      ...options,
      task,
      ...(payload !== undefined && { payload }),
    });
  }

  /** Submits in bulk requests of `chunkSize` (default 1 000, the API's limit); results in input order. */
  async submitMany(jobs: JobRequest[], options: { chunkSize?: number } = {}): Promise<Submitted[]> {
    const chunkSize = options.chunkSize ?? MAX_BULK_JOBS;
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_BULK_JOBS) {
      throw new RangeError(`chunkSize must be an integer from 1 to ${MAX_BULK_JOBS}`);
    }
    const out: Submitted[] = [];
    for (let i = 0; i < jobs.length; i += chunkSize) {
      const { jobs: created } = await this.request<{ jobs: Submitted[] }>('POST', '/api/jobs/bulk', {
        jobs: jobs.slice(i, i + chunkSize),
      });
      out.push(...created);
    }
    return out;
  }

  getJob(id: string): Promise<JobView> {
    return this.request('GET', `/api/jobs/${encodeURIComponent(id)}`);
  }

  listJobs(query: JobListQuery = {}): Promise<{ jobs: JobView[]; nextCursor: string | null }> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const qs = params.toString();
    return this.request('GET', `/api/jobs${qs ? `?${qs}` : ''}`);
  }

  cancel(id: string): Promise<JobView> {
    return this.request('POST', `/api/jobs/${encodeURIComponent(id)}/cancel`);
  }

  async queues(): Promise<QueueView[]> {
    return (await this.request<{ queues: QueueView[] }>('GET', '/api/queues')).queues;
  }

  async tasks(): Promise<{ task: string; queue: string }[]> {
    return (await this.request<{ tasks: { task: string; queue: string }[] }>('GET', '/api/tasks')).tasks;
  }

  /** Polls until the job is final; `onUpdate` sees every change of state or progress. */
  async waitForJob(
    id: string,
    options: { pollMs?: number; signal?: AbortSignal; onUpdate?: (job: JobView) => void } = {},
  ): Promise<JobView> {
    const pollMs = options.pollMs ?? 200;
    let last = '';
    for (;;) {
      options.signal?.throwIfAborted();
      const job = await this.getJob(id);
      const seen = `${job.state}:${job.progress}:${job.attempts}`;
      if (seen !== last) {
        last = seen;
        options.onUpdate?.(job);
      }
      if (FINAL_STATES.has(job.state)) return job;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.user !== undefined) headers['x-baton-user'] = this.user;
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (err) {
      const why = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      throw new BatonApiError(0, 'UNREACHABLE', `cannot reach Baton at ${this.baseUrl}: ${why}`);
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      throw new BatonApiError(
        response.status,
        'INVALID_RESPONSE',
        `${this.baseUrl} answered ${response.status} with non-JSON`,
      );
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
      throw new BatonApiError(
        response.status,
        error?.code ?? 'HTTP_ERROR',
        error?.message ?? `${method} ${path} answered ${response.status}`,
        error?.details ?? null,
      );
    }
    return parsed as T;
  }
}
