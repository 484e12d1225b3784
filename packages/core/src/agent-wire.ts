import { Packr } from 'msgpackr';
import { z } from 'zod';
import type { JobAssignment, JobError, PriorityClass } from './job.js';
import { PRIORITY_CLASSES } from './job.js';
import { frameShape } from './frame-shape.js';
import type { AgentRegistration, Completion, GpuHealth, LeaseRef, LogChunk } from './protocol.js';
import type { AddStepsRequest } from './workflow-growth.js';
import { addStepsWireFields } from './workflow-growth.js';

/**
 * The agent protocol on the wire (WebSocket at `/api/agents/connect`). Each WebSocket message
 * is one msgpack-encoded array of messages, so calls made together travel in one frame. Agent
 * requests carry an `id` the server's `reply` echoes; the server also pushes `deliver` and
 * `abort`. The server validates every agent message with the schemas below.
 */
export const AGENT_PROTOCOL_VERSION = 2;
export const AGENT_CONNECT_PATH = '/api/agents/connect';

/**
 * Largest frame an agent may send (the server closes the connection with 1009 above it): room
 * for a few completions at {@link MAX_RESULT_BYTES} each, or log chunks at their limit.
 */
export const MAX_AGENT_FRAME_BYTES = 8 * 1024 * 1024;
/** Largest frame the server sends (an agent's inbound limit): one assignment's payload must fit. */
export const MAX_SERVER_FRAME_BYTES = 64 * 1024 * 1024;
/** Most messages in one frame, either way; more and the server closes the connection (1008). */
export const MAX_FRAME_MESSAGES = 1000;
/**
 * Most values (maps, arrays, strings, numbers… each counts one) in a frame from an agent,
 * counted before decoding ({@link frameShape}): decoding allocates per value, so this bounds
 * its memory and time. Any single valid message holds far fewer (a 1 MiB JSON result, at most
 * about 520 000), so agents can always split their requests to fit.
 */
export const MAX_FRAME_VALUES = 1_000_000;
/**
 * Most entries in one request's list (`items`, `chunks`, `gpus`): the server checks it before
 * the schema, whose cost grows with every entry. Agents split longer lists across requests.
 */
export const MAX_ITEMS_PER_MESSAGE = 1000;
/** Most jobs a resuming registration may list. */
export const MAX_RESUMED_JOBS = 10_000;
/** Most tasks one agent may register. */
export const MAX_AGENT_TASKS = 1000;
/** Most queues one agent may name (`--queues`); its tasks' own queues come on top. */
export const MAX_AGENT_QUEUES = 100;
/**
 * Most task routes one agent may serve: its distinct tasks times the queues it takes (those it
 * names and its tasks' own). Every route is written to the store and listed by `GET /api/tasks`.
 */
export const MAX_AGENT_TASK_ROUTES = 10_000;
/** Largest job result, as JSON bytes: a larger one fails the job with `RESULT_TOO_LARGE`. */
export const MAX_RESULT_BYTES = 1024 * 1024;
/** Longest `data` of one log chunk, in UTF-16 code units; agents split longer output. */
export const MAX_LOG_CHUNK_CHARS = 256 * 1024;
/** Invalid messages a connection may send within {@link INVALID_MESSAGE_WINDOW_MS} before it is closed. */
export const MAX_INVALID_MESSAGES = 100;
export const INVALID_MESSAGE_WINDOW_MS = 60_000;
/** WebSocket close code for an agent the server cut off (protocol abuse): 1008, policy violation. */
export const AGENT_POLICY_CLOSE = 1008;

/** How long a preempted job's handler has after its abort (SIGTERM) before it is given up on. */
export const DEFAULT_PREEMPT_GRACE_MS = 30_000;
/** A job that has run less than this on a preemptible agent is not preempted. */
export const DEFAULT_MIN_RUNTIME_MS = 60_000;
/** Longest preemption grace an agent may declare: a victim holds the room its preemptor waits for. */
export const MAX_PREEMPT_GRACE_MS = 60 * 60_000;
/** Longest minimum runtime an agent may declare (a week). */
export const MAX_MIN_RUNTIME_MS = 7 * 24 * 60 * 60_000;

/**
 * What is wrong with an agent's priority-pool declaration, or null: a class listed twice or
 * unknown, or a dedicated agent (taking only some classes) that is also preemptible — a
 * preemptible agent takes any work, so the two ask for opposite things.
 */
export function poolDeclarationProblem(d: { priorities?: readonly string[]; preemptible?: boolean }): string | null {
  const priorities = d.priorities;
  if (priorities === undefined) return null;
  if (priorities.length === 0) return `priorities must name at least one of ${PRIORITY_CLASSES.join(', ')}`;
  const seen = new Set<string>();
  for (const p of priorities) {
    if (!(PRIORITY_CLASSES as readonly string[]).includes(p))
      return `unknown priority class "${p}": use ${PRIORITY_CLASSES.join(', ')}`;
    if (seen.has(p)) return `priority class "${p}" is listed twice`;
    seen.add(p);
  }
  if (d.preemptible && isDedicated(priorities as readonly PriorityClass[])) {
    return `an agent dedicated to ${priorities.join(', ')} cannot also be preemptible: a preemptible agent takes work of every class`;
  }
  return null;
}

/** Whether an agent taking these classes is dedicated (takes fewer than all of them). */
export function isDedicated(priorities: readonly PriorityClass[] | undefined): boolean {
  return priorities !== undefined && PRIORITY_CLASSES.some((p) => !priorities.includes(p));
}

/**
 * A job whose handler ignored its AbortSignal and runs on after the job ended (cancelled,
 * timed out, lease lost): its slots and GPUs stay taken on the agent until the handler returns.
 */
export interface LingeringJob {
  jobId: string;
  slots: number;
  gpus: number[];
  /** When the job ended and its handler ran on (epoch ms). */
  since: number;
}

/** Most lingering jobs one report lists (an agent with more reports the oldest). */
export const MAX_LINGERING_JOBS = MAX_ITEMS_PER_MESSAGE;

/**
 * What a link tells the server beyond `AgentLink`: which of the agent's handlers linger,
 * so the server counts their room as taken and does not place work the agent cannot start.
 * Both of Baton's links have it; an agent on a link without it runs as before, unreported.
 */
export interface LingeringReport {
  /** Every lingering job of the agent now (this list replaces the last one); empty when none. */
  lingering(jobs: LingeringJob[]): Promise<void>;
}

export type AgentRequest =
  | { t: 'register'; id: number; protocol: number; registration: AgentRegistration }
  | { t: 'started'; id: number; items: LeaseRef[] }
  | { t: 'heartbeat'; id: number; items: (LeaseRef & { progress?: number })[] }
  | { t: 'complete'; id: number; items: Completion[] }
  | { t: 'logs'; id: number; chunks: LogChunk[] }
  | { t: 'gpuHealth'; id: number; gpus: GpuHealth[] }
  | { t: 'lingering'; id: number; jobs: LingeringJob[] }
  // Added after protocol 2 shipped: a server that does not know it answers INVALID_AGENT_MESSAGE.
  | ({ t: 'addSteps'; id: number } & AddStepsRequest)
  | { t: 'drain'; id: number }
  | { t: 'unregister'; id: number };

export type ServerMessage =
  | { t: 'reply'; id: number; ok: true; result: unknown }
  | { t: 'reply'; id: number; ok: false; error: { code: string; message: string } }
  // A workflow step's assignment also carries `workflow` and `inputs`; a plain job's has
  // neither key, so it costs exactly what it did (older agents ignore the extra keys).
  | { t: 'deliver'; assignments: JobAssignment[] }
  | { t: 'abort'; jobIds: string[]; reason: string; preempt?: true };

// Records off: plain maps, readable by any msgpack implementation.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeFrame(messages: readonly (AgentRequest | ServerMessage)[]): Buffer {
  return packr.pack(messages);
}

/** Decodes one frame into its messages; anything but an array of objects is an error. */
export function decodeFrame(data: Uint8Array): unknown[] {
  const decoded: unknown = packr.unpack(data);
  if (!Array.isArray(decoded)) throw new Error('agent frame is not an array of messages');
  return decoded;
}

/** A message that could not go into any frame, and why (unencodable, or too large alone). */
export interface UnpackedMessage<M> {
  message: M;
  reason: string;
}

/**
 * Packs messages into as few frames as the limits allow, in order. A message that cannot be
 * encoded (nested too deeply for msgpack, say) or that alone exceeds `maxFrameBytes` is
 * returned in `failed` instead of failing the others: one bad job never blocks a connection.
 */
export function packFrames<M extends AgentRequest | ServerMessage>(
  messages: readonly M[],
  limits: { maxFrameBytes: number; maxMessages: number; maxValues: number } = {
    maxFrameBytes: MAX_AGENT_FRAME_BYTES,
    maxMessages: MAX_FRAME_MESSAGES,
    maxValues: MAX_FRAME_VALUES,
  },
): { frames: Buffer[]; failed: UnpackedMessage<M>[] } {
  if (messages.length === 0) return { frames: [], failed: [] };
  const countValues = Number.isFinite(limits.maxValues);
  const valuesOf = (encoded: Uint8Array) => (countValues ? frameShape(encoded, limits.maxValues).values : 0);
  if (messages.length <= limits.maxMessages) {
    // The common case: everything fits one frame, encoded in one call.
    const whole = tryPack(messages);
    if (whole instanceof Uint8Array && whole.length <= limits.maxFrameBytes && valuesOf(whole) <= limits.maxValues)
      return { frames: [Buffer.from(whole.buffer, whole.byteOffset, whole.length)], failed: [] };
  }
  const frames: Buffer[] = [];
  const failed: UnpackedMessage<M>[] = [];
  let parts: Uint8Array[] = [];
  let bytes = 0;
  let values = 1; // the frame's array
  const flush = () => {
    if (parts.length > 0) frames.push(Buffer.concat([arrayHeader(parts.length), ...parts]));
    parts = [];
    bytes = 0;
    values = 1;
  };
  for (const message of messages) {
    const encoded = tryPack(message);
    if (!(encoded instanceof Uint8Array)) {
      failed.push({ message, reason: encoded });
      continue;
    }
    if (encoded.length + ARRAY_HEADER_BYTES > limits.maxFrameBytes) {
      failed.push({
        message,
        reason: `it encodes to ${encoded.length} bytes, more than the ${limits.maxFrameBytes}-byte frame limit`,
      });
      continue;
    }
    const count = valuesOf(encoded);
    if (count + 1 > limits.maxValues) {
      failed.push({ message, reason: `it holds more than the ${limits.maxValues} values a frame may carry` });
      continue;
    }
    if (
      parts.length >= limits.maxMessages ||
      bytes + encoded.length + ARRAY_HEADER_BYTES > limits.maxFrameBytes ||
      values + count > limits.maxValues
    ) {
      flush();
    }
    parts.push(encoded);
    bytes += encoded.length;
    values += count;
  }
  flush();
  return { frames, failed };
}

/** The encoding, or why it failed (msgpackr recurses: deep nesting overflows the stack). */
function tryPack(value: unknown): Uint8Array | string {
  try {
    return packr.pack(value);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return err instanceof RangeError ? `it is nested too deeply to encode (${why})` : `it cannot be encoded (${why})`;
  }
}

const ARRAY_HEADER_BYTES = 5;

/** A msgpack array header for `n` elements; the elements follow, each encoded on its own. */
function arrayHeader(n: number): Buffer {
  if (n < 16) return Buffer.from([0x90 | n]);
  const header = Buffer.alloc(n < 0x10000 ? 3 : 5);
  header[0] = n < 0x10000 ? 0xdc : 0xdd;
  if (n < 0x10000) header.writeUInt16BE(n, 1);
  else header.writeUInt32BE(n, 1);
  return header;
}

/**
 * Checks a task's result against what a job may keep: JSON (as stored) of at most
 * {@link MAX_RESULT_BYTES}. Returns the job's error when it may not, null when it may.
 */
export function checkResult(result: unknown): JobError | null {
  let json: string | undefined;
  try {
    json = JSON.stringify(result ?? null);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      code: 'RESULT_UNENCODABLE',
      message: `the job's result cannot be stored as JSON: ${why}`,
      retryable: false,
    };
  }
  // Byte length only when it could matter: a UTF-8 byte takes at most 3 bytes per UTF-16 unit.
  const bytes = json === undefined ? 0 : json.length * 3 <= MAX_RESULT_BYTES ? 0 : Buffer.byteLength(json);
  if (bytes > MAX_RESULT_BYTES) {
    return {
      code: 'RESULT_TOO_LARGE',
      message: `the job's result is ${bytes} bytes as JSON, more than the ${MAX_RESULT_BYTES}-byte limit; store large outputs elsewhere and return a reference`,
      retryable: false,
    };
  }
  return null;
}

const id = z.number().int().min(0);
const jobId = z.string().min(1).max(64);
const leaseRef = { jobId, leaseToken: z.string().min(1).max(100) };
const index = z.number().int().min(0).max(1023);
const resources = z.strictObject({
  slots: z.number().int().min(1),
  cpu: z.number().min(0),
  memoryMb: z.number().min(0),
  gpus: z.number().int().min(0),
});
const name = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/=-]*$/, 'may hold only letters, digits and . _ : / = -');
const jobError = z.strictObject({
  code: z.string().min(1).max(100),
  message: z.string().max(64 * 1024),
  retryable: z.boolean(),
});

export const registrationSchema = z.strictObject({
  name: name.optional(),
  pool: name.optional(),
  queues: z.array(name).max(MAX_AGENT_QUEUES),
  tasks: z.array(z.strictObject({ task: name, queue: name })).max(MAX_AGENT_TASKS),
  slots: z.number().int().min(1).max(100_000),
  cpu: z.number().min(0).optional(),
  memoryMb: z.number().min(0).optional(),
  tags: z.array(name).max(100).optional(),
  gpus: z
    .array(
      z.strictObject({
        index,
        uuid: z.string().max(200),
        name: z.string().max(200),
        memoryMb: z.number().min(0),
        healthy: z.boolean(),
      }),
    )
    .max(1024)
    .optional(),
  priorities: z.array(z.enum(PRIORITY_CLASSES)).min(1).max(PRIORITY_CLASSES.length).optional(),
  preemptible: z.boolean().optional(),
  preemptGraceMs: z.number().int().min(0).max(MAX_PREEMPT_GRACE_MS).optional(),
  minRuntimeMs: z.number().int().min(0).max(MAX_MIN_RUNTIME_MS).optional(),
  resume: z
    .strictObject({
      agentId: name,
      // The secret issued at registration (RegisteredAgent.resumeSecret): proves the same agent.
      secret: z.string().min(22).max(200).optional(),
      jobs: z.array(z.strictObject({ ...leaseRef, resources, gpus: z.array(index).max(1024) })).max(MAX_RESUMED_JOBS),
    })
    .optional(),
});

export const agentRequestSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('register'), id, protocol: z.number().int(), registration: registrationSchema }),
  z.strictObject({ t: z.literal('started'), id, items: z.array(z.strictObject(leaseRef)).max(MAX_ITEMS_PER_MESSAGE) }),
  z.strictObject({
    t: z.literal('heartbeat'),
    id,
    items: z
      .array(z.strictObject({ ...leaseRef, progress: z.number().min(0).max(100).optional() }))
      .max(MAX_ITEMS_PER_MESSAGE),
  }),
  z.strictObject({
    t: z.literal('complete'),
    id,
    items: z
      .array(
        z.union([
          z.strictObject({
            ...leaseRef,
            outcome: z.literal('succeeded'),
            result: z.unknown(),
            startedAt: z.number().optional(),
          }),
          z.strictObject({
            ...leaseRef,
            outcome: z.literal('failed'),
            error: jobError,
            startedAt: z.number().optional(),
          }),
        ]),
      )
      .max(MAX_ITEMS_PER_MESSAGE),
  }),
  z.strictObject({
    t: z.literal('logs'),
    id,
    chunks: z
      .array(
        z.strictObject({
          jobId,
          attempt: z.number().int().min(1),
          stream: z.enum(['stdout', 'stderr']),
          data: z.string().max(MAX_LOG_CHUNK_CHARS),
        }),
      )
      .max(MAX_ITEMS_PER_MESSAGE),
  }),
  z.strictObject({
    t: z.literal('gpuHealth'),
    id,
    gpus: z
      .array(z.strictObject({ index, healthy: z.boolean(), reason: z.string().max(1000).optional() }))
      .max(MAX_ITEMS_PER_MESSAGE),
  }),
  z.strictObject({
    t: z.literal('lingering'),
    id,
    jobs: z
      .array(
        z.strictObject({
          jobId,
          slots: z.number().int().min(1).max(100_000),
          gpus: z.array(index).max(1024),
          since: z.number().int().min(0),
        }),
      )
      .max(MAX_LINGERING_JOBS),
  }),
  z.strictObject({ t: z.literal('addSteps'), id, ...addStepsWireFields }),
  z.strictObject({ t: z.literal('drain'), id }),
  z.strictObject({ t: z.literal('unregister'), id }),
]);
