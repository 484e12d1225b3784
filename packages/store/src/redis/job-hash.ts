import type { AssignedJob, Job, JobAttempt, JobError, JobState, NewJob, PendingJob, Resources } from '@baton/core';
import { FINAL_STATES, PRIORITY_CLASSES, priorityRank } from '@baton/core';
import { SEP } from './keys.js';
import { withDefaultResources } from '../rules/resources.js';

/**
 * A job as its Redis hash holds it: every value a string, a null field absent. JSON fields
 * (payload, result, error, resources, constraints, gpus) hold JSON text.
 */
export type JobHash = Record<string, string>;

const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));
const json = (v: string | undefined): unknown => (v === undefined ? null : JSON.parse(v));

/** The member of a queued job in the `queued` index: queue, then scheduling order, then FIFO by id. */
export function queuedMember(queue: string, rank: number, level: number, id: string): string {
  // Higher levels run first: store 1e9 - level, zero-padded, so lexical order is numeric order.
  return `${queue}${SEP}${rank}${String(1e9 - level).padStart(10, '0')}${SEP}${id}`;
}

/** The job id at the end of an index member ("<…>\0<id>"). */
export function idOfMember(member: string): string {
  return member.slice(member.lastIndexOf(SEP) + 1);
}

/**
 * The hash fields every new job gives the enqueue script, in this order (its values: enqueueRow).
 * The script adds state, wmember, gpus, attempts, updated_at and, when given, timeout_ms and idem.
 */
export const ENQUEUE_FIELDS = [
  'id',
  'queue',
  'task',
  'owner',
  'payload',
  'priority',
  'level',
  'resources',
  'constraints',
  'max_attempts',
  'backoff_ms',
  'run_at',
  'created_at',
  'qmember',
] as const;
/** Where the payload's JSON text is in an enqueue row. */
export const PAYLOAD_AT = ENQUEUE_FIELDS.indexOf('payload');

/** A new job's values of ENQUEUE_FIELDS. */
export function enqueueRow(job: NewJob): string[] {
  const rank = priorityRank(job.priority);
  return [
    job.id,
    job.queue,
    job.task,
    job.owner,
    JSON.stringify(job.payload ?? null),
    String(rank),
    String(job.priorityLevel),
    JSON.stringify(job.resources),
    JSON.stringify({ tags: job.constraints.tags }),
    String(job.maxAttempts),
    String(job.backoffMs),
    String(job.runAt),
    String(job.createdAt),
    queuedMember(job.queue, rank, job.priorityLevel, job.id),
  ];
}

/**
 * The job the enqueue script created from `job`, as jobOfHash would read it back (the payload
 * from the JSON text stored, so it is a copy), without re-reading it.
 */
export function jobOfNewJob(job: NewJob, state: JobState, payloadText: string): Job {
  const r = job.resources as Partial<Resources>;
  return {
    id: job.id,
    queue: job.queue,
    task: job.task,
    owner: job.owner,
    payload: JSON.parse(payloadText),
    state,
    priority: PRIORITY_CLASSES[priorityRank(job.priority)] ?? 'normal',
    priorityLevel: job.priorityLevel,
    resources: withDefaultResources(r),
    constraints: { tags: [...job.constraints.tags] },
    attempts: 0,
    maxAttempts: job.maxAttempts,
    backoffMs: job.backoffMs,
    timeoutMs: job.timeoutMs,
    runAt: job.runAt,
    idempotencyKey: job.idempotencyKey,
    progress: null,
    result: null,
    error: null,
    agentId: null,
    gpus: [],
    leaseExpiresAt: null,
    createdAt: job.createdAt,
    startedAt: null,
    finishedAt: null,
    updatedAt: job.createdAt,
  };
}

/** HGETALL's answer as a record; ioredis may give either shape. */
export function hashOf(reply: unknown): JobHash {
  if (Array.isArray(reply)) {
    const h: JobHash = {};
    for (let i = 0; i + 1 < reply.length; i += 2) h[String(reply[i])] = String(reply[i + 1]);
    return h;
  }
  return (reply ?? {}) as JobHash;
}

export function resourcesOf(text: string | undefined): Resources {
  const r = (text === undefined ? {} : JSON.parse(text)) as Partial<Resources>;
  return withDefaultResources(r);
}

function tagsOf(text: string | undefined): string[] {
  return text === undefined ? [] : ((JSON.parse(text) as { tags?: string[] }).tags ?? []);
}

export function jobOfHash(h: JobHash): Job {
  return {
    id: h.id!,
    queue: h.queue!,
    task: h.task!,
    owner: h.owner!,
    payload: json(h.payload),
    state: h.state as JobState,
    priority: PRIORITY_CLASSES[Number(h.priority)] ?? 'normal',
    priorityLevel: Number(h.level),
    resources: resourcesOf(h.resources),
    constraints: { tags: tagsOf(h.constraints) },
    attempts: Number(h.attempts),
    maxAttempts: Number(h.max_attempts),
    backoffMs: Number(h.backoff_ms),
    timeoutMs: num(h.timeout_ms),
    runAt: Number(h.run_at),
    idempotencyKey: h.idem ?? null,
    progress: num(h.progress),
    result: json(h.result),
    error: json(h.error) as JobError | null,
    agentId: h.agent_id ?? null,
    gpus: h.gpus === undefined ? [] : (JSON.parse(h.gpus) as number[]),
    leaseExpiresAt: num(h.lease_expires_at),
    createdAt: Number(h.created_at),
    startedAt: num(h.started_at),
    finishedAt: num(h.finished_at),
    updatedAt: Number(h.updated_at),
    // Only a workflow's step has these (absent, not undefined, on a plain job).
    ...(h.wf !== undefined && {
      workflow: { id: h.wf, step: h.wf_step ?? '', needs: JSON.parse(h.wf_needs ?? '[]') as string[] },
    }),
    ...(h.inputs !== undefined && { inputs: JSON.parse(h.inputs) as Record<string, unknown> }),
  };
}

/** The hash fields `pending` reads, in this order (HMGET). */
export const PENDING_FIELDS = [
  'id',
  'queue',
  'task',
  'priority',
  'level',
  'resources',
  'constraints',
  'avoid_agent_id',
  'timeout_ms',
  'state',
  'owner',
] as const;

export function pendingOf(values: (string | null)[]): PendingJob | null {
  const [id, queue, task, priority, level, resources, constraints, avoid, timeout, state, owner] = values;
  if (!id || !queue || !task || !owner || state !== 'queued') return null;
  return {
    id,
    queue,
    task,
    owner,
    priority: PRIORITY_CLASSES[Number(priority)] ?? 'normal',
    priorityLevel: Number(level),
    resources: resourcesOf(resources ?? undefined),
    constraints: { tags: tagsOf(constraints ?? undefined) },
    avoidAgentId: avoid ?? null,
    timeLimitMs: num(timeout ?? undefined),
  };
}

/**
 * The assign script's answer after its status: queue, task, owner, payload, attempts, max,
 * timeout, resources, and for a workflow's step its workflow id, step id and inputs.
 */
export function assignedOf(id: string, agentId: string, gpus: number[], r: string[]): AssignedJob {
  const job: AssignedJob = {
    id,
    queue: r[1]!,
    task: r[2]!,
    owner: r[3]!,
    payload: json(r[4]),
    attempts: Number(r[5]),
    maxAttempts: Number(r[6]),
    timeoutMs: num(r[7]),
    agentId,
    resources: resourcesOf(r[8]),
    gpus,
  };
  if (r[9] !== undefined) {
    job.workflow = { id: r[9], step: r[10] ?? '' };
    job.inputs = JSON.parse(r[11] ?? '{}') as Record<string, unknown>;
  }
  return job;
}

/** A record of the attempts list, as finish_attempt (scripts/lib/job.lua) writes it. */
interface AttemptRecord {
  attempt: string;
  agentId: string;
  assignedAt: string;
  startedAt?: string;
  finishedAt: string;
  outcome: string;
  error?: string;
}

export function attemptOfRecord(text: string): JobAttempt {
  const r = JSON.parse(text) as AttemptRecord;
  return {
    attempt: Number(r.attempt),
    agentId: r.agentId,
    assignedAt: Number(r.assignedAt),
    startedAt: num(r.startedAt),
    finishedAt: Number(r.finishedAt),
    outcome: r.outcome as JobAttempt['outcome'],
    error: json(r.error) as JobError | null,
  };
}

/**
 * The job's latest attempt, read from the hash: attempts that ended without ending the job are
 * in the attempts list; the one running, or the one that ended the job, is the job itself.
 */
export function currentAttempt(h: JobHash, recorded: number): JobAttempt | null {
  const attempts = Number(h.attempts);
  if (!(attempts > recorded) || h.agent_id === undefined) return null;
  const state = h.state as JobState;
  const final = FINAL_STATES.has(state);
  const error = state === 'failed' ? (json(h.error) as JobError | null) : null;
  return {
    attempt: attempts,
    agentId: h.agent_id,
    assignedAt: Number(h.assigned_at),
    startedAt: num(h.started_at),
    finishedAt: final ? num(h.finished_at) : null,
    outcome:
      state === 'succeeded' || state === 'cancelled'
        ? state
        : state === 'failed'
          ? error?.code === 'LEASE_EXPIRED'
            ? 'lease_expired'
            : 'failed'
          : null,
    error,
  };
}
