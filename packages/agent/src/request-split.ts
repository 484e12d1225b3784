import type { AgentRequest } from '@baton/core';
import { BatonError, MAX_ITEMS_PER_MESSAGE } from '@baton/core';

/** A request before it is given an id. */
export type RequestBody = AgentRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** What to do with a request that cannot go into any frame (unencodable, or too large alone). */
export type UnsendableRequest =
  /** Send these instead, each with its own id; the original's answer joins theirs, in order. */
  | { kind: 'split'; parts: AgentRequest[] }
  /** Send this instead, under the same id. */
  | { kind: 'replace'; message: AgentRequest }
  | { kind: 'reject'; error: BatonError };

/**
 * A batch is split in halves; a lone completion whose result cannot be encoded becomes the
 * job's failure (`RESULT_UNENCODABLE`, not retried: the next attempt would fail alike), so the
 * job ends instead of timing out and running again; anything else fails its caller.
 */
export function splitUnsendable(message: AgentRequest, reason: string, nextId: () => number): UnsendableRequest {
  const list = itemsOf(message);
  if (list && list.values.length > 1) {
    const half = Math.ceil(list.values.length / 2);
    const parts = [list.values.slice(0, half), list.values.slice(half)].map(
      (values) => ({ ...message, [list.key]: values, id: nextId() }) as AgentRequest,
    );
    return { kind: 'split', parts };
  }
  const item = message.t === 'complete' ? message.items[0] : undefined;
  if (message.t === 'complete' && item?.outcome === 'succeeded') {
    const { result: _result, ...ref } = item;
    const error = {
      code: 'RESULT_UNENCODABLE',
      message: `the job's result cannot be sent to the server: ${reason}`,
      retryable: false,
    };
    return { kind: 'replace', message: { ...message, items: [{ ...ref, outcome: 'failed', error }] } };
  }
  const error = new BatonError('UNSENDABLE_REQUEST', `the agent's ${message.t} request cannot be sent: ${reason}`, 400);
  return { kind: 'reject', error };
}

/**
 * Splits a request whose list is longer than the server takes in one message
 * ({@link MAX_ITEMS_PER_MESSAGE}) into requests of at most that many; null when it fits.
 */
export function splitLongList<R extends RequestBody>(request: R, max = MAX_ITEMS_PER_MESSAGE): R[] | null {
  const list = itemsOf(request);
  if (!list || list.values.length <= max) return null;
  const parts: R[] = [];
  for (let i = 0; i < list.values.length; i += max)
    parts.push({ ...request, [list.key]: list.values.slice(i, i + max) });
  return parts;
}

/** Joins the answers of a split request's parts into the answer to the whole. */
export function joinAnswers(answers: unknown[]): unknown {
  return Array.isArray(answers[0]) ? answers.flat() : (answers[0] ?? null);
}

/** The list a batched request carries, which can be split across requests. */
function itemsOf(message: RequestBody): { key: string; values: unknown[] } | null {
  switch (message.t) {
    case 'started':
    case 'heartbeat':
    case 'complete':
      return { key: 'items', values: message.items };
    case 'logs':
      return { key: 'chunks', values: message.chunks };
    case 'gpuHealth':
      return { key: 'gpus', values: message.gpus };
    default:
      return null;
  }
}
