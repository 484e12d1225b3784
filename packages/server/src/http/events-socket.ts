import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { BatonError, RetryLaterError } from '@baton/core';
import type { Store, StoreEvent } from '@baton/store';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { Authenticator } from '../auth/authenticator.js';
import { actingFor } from '../auth/authenticator.js';
import { JobOwners } from '../auth/job-owners.js';
import type { Principal } from '../auth/principal.js';
import { isAdmin } from '../auth/principal.js';
import type { UpgradeEndpoint } from './upgrades.js';
import { refuse } from './upgrades.js';

export const EVENTS_PATH = '/api/events';

/** Event types a client may ask for; internal messages between servers are never sent. */
const PUBLIC_TYPES = new Set<StoreEvent['type']>(['enqueued', 'changed', 'cancelled', 'logs', 'capacity']);

/** Events waiting on an owner lookup, per socket; past this the client is too slow and goes. */
const MAX_PENDING_EVENTS = 1000;
/** Bytes buffered for a client past which it is too slow and goes. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * `GET /api/events` (WebSocket): the store's events as JSON text messages, one event each —
 * from every server on the store, since they travel through it (NOTIFY, pub/sub). `?types=a,b`
 * narrows them; `?job=ID` keeps only that job's `cancelled` and `logs` events plus `changed`.
 * The upgrade takes the same `Authorization: Bearer` token as the rest of the API. An admin
 * gets every event; a user only `cancelled` and `logs` of their own jobs and the fleet-wide
 * wake-ups that name no job (`changed`, `capacity`), never `enqueued` (it tells of other users'
 * work). A client that reads too slowly (over 1 MiB buffered) is disconnected.
 */
export function eventsSocket(store: Store, auth: Authenticator): UpgradeEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const owners = new JobOwners(store);
  return {
    path: EVENTS_PATH,
    upgrade(request: IncomingMessage, socket: Duplex, head: Buffer) {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const typesParam = url.searchParams.get('types');
      const types = typesParam === null ? PUBLIC_TYPES : new Set(typesParam.split(',').filter(Boolean));
      for (const t of types) {
        if (!PUBLIC_TYPES.has(t as StoreEvent['type'])) {
          return refuse(
            socket,
            400,
            'VALIDATION_FAILED',
            `types: unknown event type "${t}" (known: ${[...PUBLIC_TYPES].join(', ')})`,
          );
        }
      }
      const job = url.searchParams.get('job');
      authorize(auth, owners, request, job)
        .then((principal) => {
          wss.handleUpgrade(request, socket, head, (ws) => stream(ws, principal));
        })
        .catch((err: unknown) => {
          if (err instanceof BatonError) {
            const headers: Record<string, string> =
              err instanceof RetryLaterError ? { 'Retry-After': String(err.retryAfterS) } : {};
            return refuse(socket, err.httpStatus, err.code, err.message, headers);
          }
          refuse(socket, 500, 'INTERNAL', 'internal error; see the server log');
        });

      function stream(ws: WebSocket, principal: Principal): void {
        const everything = isAdmin(principal);
        let pending = 0;
        let chain = Promise.resolve();
        const send = (event: StoreEvent) => {
          if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
            ws.terminate();
            return;
          }
          ws.send(JSON.stringify(event));
        };
        const unsubscribe = store.subscribe((event) => {
          if (!types.has(event.type)) return;
          if (job !== null && 'jobId' in event && event.jobId !== job) return;
          if (job !== null && event.type !== 'changed' && !('jobId' in event)) return;
          if (everything) return send(event);
          if (event.type === 'enqueued') return;
          if (!('jobId' in event)) return send(event);
          // A job's event waits for its owner; the chain keeps events in the order they came.
          if (++pending > MAX_PENDING_EVENTS) return ws.terminate();
          const jobId = event.jobId;
          chain = chain
            .then(async () => {
              if ((await owners.of(jobId)) === principal.name) send(event);
            })
            .catch(() => ws.terminate())
            .finally(() => {
              pending -= 1;
            });
        });
        ws.on('close', unsubscribe);
        ws.on('error', unsubscribe);
      }
    },
    close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

/** The principal of an events upgrade; a user following one job must own it (else a 404). */
async function authorize(
  auth: Authenticator,
  owners: JobOwners,
  request: IncomingMessage,
  job: string | null,
): Promise<Principal> {
  const principal = await auth.authenticate(request.headers, request.socket.remoteAddress ?? 'unknown');
  const acting = actingFor(request.headers);
  if (acting !== undefined && acting !== principal.name && !isAdmin(principal)) {
    throw new BatonError('FORBIDDEN', 'only an admin may act for another user (X-Baton-User)', 403);
  }
  if (job !== null && !isAdmin(principal) && (await owners.of(job)) !== principal.name) {
    throw new BatonError('JOB_NOT_FOUND', `job ${job} not found`, 404);
  }
  return principal;
}
