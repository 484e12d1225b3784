import { Packr } from 'msgpackr';
import { z } from 'zod';
import type { JobAssignment } from './job.js';
import type { AgentRegistration, Completion, GpuHealth, LeaseRef, LogChunk } from './protocol.js';

/**
 * The agent protocol on the wire (WebSocket at `/api/agents/connect`). Each WebSocket message
 * is one msgpack-encoded array of messages, so calls made together travel in one frame. Agent
 * requests carry an `id` the server's `reply` echoes; the server also pushes `deliver` and
 * `abort`. The server validates every agent message with the schemas below.
 */
export const AGENT_PROTOCOL_VERSION = 1;
export const AGENT_CONNECT_PATH = '/api/agents/connect';

export type AgentRequest =
  | { t: 'register'; id: number; protocol: number; registration: AgentRegistration }
  | { t: 'started'; id: number; items: LeaseRef[] }
  | { t: 'heartbeat'; id: number; items: (LeaseRef & { progress?: number })[] }
  | { t: 'complete'; id: number; items: Completion[] }
  | { t: 'logs'; id: number; chunks: LogChunk[] }
  | { t: 'gpuHealth'; id: number; gpus: GpuHealth[] }
  | { t: 'drain'; id: number }
  | { t: 'unregister'; id: number };

export type ServerMessage =
  | { t: 'reply'; id: number; ok: true; result: unknown }
  | { t: 'reply'; id: number; ok: false; error: { code: string; message: string } }
  | { t: 'deliver'; assignments: JobAssignment[] }
  | { t: 'abort'; jobIds: string[]; reason: string };

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
  queues: z.array(name).max(1000),
  tasks: z.array(z.strictObject({ task: name, queue: name })).max(10_000),
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
  resume: z
    .strictObject({
      agentId: name,
      jobs: z.array(z.strictObject({ ...leaseRef, resources, gpus: z.array(index) })).max(100_000),
    })
    .optional(),
});

export const agentRequestSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('register'), id, protocol: z.number().int(), registration: registrationSchema }),
  z.strictObject({ t: z.literal('started'), id, items: z.array(z.strictObject(leaseRef)) }),
  z.strictObject({
    t: z.literal('heartbeat'),
    id,
    items: z.array(z.strictObject({ ...leaseRef, progress: z.number().min(0).max(100).optional() })),
  }),
  z.strictObject({
    t: z.literal('complete'),
    id,
    items: z.array(
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
    ),
  }),
  z.strictObject({
    t: z.literal('logs'),
    id,
    chunks: z.array(
      z.strictObject({
        jobId,
        attempt: z.number().int().min(1),
        stream: z.enum(['stdout', 'stderr']),
        data: z.string().max(4 * 1024 * 1024),
      }),
    ),
  }),
  z.strictObject({
    t: z.literal('gpuHealth'),
    id,
    gpus: z.array(z.strictObject({ index, healthy: z.boolean(), reason: z.string().max(1000).optional() })),
  }),
  z.strictObject({ t: z.literal('drain'), id }),
  z.strictObject({ t: z.literal('unregister'), id }),
]);
