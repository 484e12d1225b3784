import type { StoreEvent } from '@baton/store';
import type { EventFanout } from './event-fanout.js';
import type { WebSocket } from 'ws';
import type { JobOwners } from '../auth/job-owners.js';
import type { Principal } from '../auth/principal.js';
import { maySeeAll } from '../auth/principal.js';

/** Event types a client may ask for; internal messages between servers are never sent. */
export const PUBLIC_TYPES = new Set<StoreEvent['type']>(['enqueued', 'changed', 'cancelled', 'logs', 'capacity']);

/** Events waiting on an owner lookup, per socket; past this the client is too slow and goes. */
const MAX_PENDING_EVENTS = 1000;
/** Bytes buffered for a client past which it is too slow and goes. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** What one client asked to hear: event types, and one job's events only (`job`) or all. */
export interface EventInterest {
  types: ReadonlySet<string>;
  job: string | null;
}

/**
 * Streams the store's events to an authenticated client until it goes: an admin or viewer gets
 * every event asked for; a user only `cancelled` and `logs` of their own jobs and the wake-ups
 * that name no job (`changed`, `capacity`), never `enqueued` (it tells of other users' work).
 */
export function streamEvents(
  ws: WebSocket,
  deps: { fanout: EventFanout; owners: JobOwners },
  principal: Principal,
  interest: EventInterest,
): void {
  const { types, job } = interest;
  const everything = maySeeAll(principal);
  let pending = 0;
  let chain = Promise.resolve();
  const send = (json: string) => {
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      ws.terminate();
      return;
    }
    ws.send(json);
  };
  const remove = deps.fanout.add((batch) => {
    for (const { event, json } of batch) {
      if (!types.has(event.type)) continue;
      if (job !== null && 'jobId' in event && event.jobId !== job) continue;
      if (job !== null && event.type !== 'changed' && !('jobId' in event)) continue;
      if (everything) {
        send(json);
        continue;
      }
      if (event.type === 'enqueued') continue;
      if (!('jobId' in event)) {
        send(json);
        continue;
      }
      // A job's event waits for its owner; the chain keeps events in the order they came.
      if (++pending > MAX_PENDING_EVENTS) return ws.terminate();
      const jobId = event.jobId;
      chain = chain
        .then(async () => {
          if ((await deps.owners.of(jobId)) === principal.name) send(json);
        })
        .catch(() => ws.terminate())
        .finally(() => {
          pending -= 1;
        });
    }
  });
  ws.on('close', remove);
  ws.on('error', remove);
}
