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

  /**
   * Polls until the job is final (succeeded, failed or cancelled); `onUpdate` sees every change
   * of state, progress or attempt. Aborting `signal` rejects with its reason at once.
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
      const seen = `${job.state}:${job.progress}:${job.attempts}`;
      if (seen !== last) {
        last = seen;
        onUpdate?.(job);
      }
      if (FINAL_STATES.has(job.state)) return job;
      await sleep(pollMs, signal);
    }
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.user !== undefined) headers['x-baton-user'] = this.user;
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await response.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new BatonApiError(0, 'UNREACHABLE', `cannot reach Baton at ${this.baseUrl}: ${this.why(err, timeout)}`);
    }
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

  private why(err: unknown, timeout: AbortSignal): string {
    if (timeout.aborted) return `no answer within ${this.requestTimeoutMs} ms`;
    if (!(err instanceof Error)) return String(err);
    return (err.cause as Error | undefined)?.message ?? err.message;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
