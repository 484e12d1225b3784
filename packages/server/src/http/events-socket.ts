import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Store, StoreEvent } from '@baton/store';
import { WebSocketServer } from 'ws';
import type { UpgradeEndpoint } from './upgrades.js';
import { refuse } from './upgrades.js';

export const EVENTS_PATH = '/api/events';

/** Event types a client may ask for; internal messages between servers are never sent. */
const PUBLIC_TYPES = new Set<StoreEvent['type']>(['enqueued', 'changed', 'cancelled', 'logs', 'capacity']);

/**
 * `GET /api/events` (WebSocket): the store's events as JSON text messages, one event each —
 * from every server on the store, since they travel through it (NOTIFY, pub/sub). `?types=a,b`
 * narrows them; `?job=ID` keeps only that job's `cancelled` and `logs` events plus `changed`.
 * A client that reads too slowly (over 1 MiB buffered) is disconnected.
 */
export function eventsSocket(store: Store): UpgradeEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
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
      wss.handleUpgrade(request, socket, head, (ws) => {
        const unsubscribe = store.subscribe((event) => {
          if (!types.has(event.type)) return;
          if (job !== null && 'jobId' in event && event.jobId !== job) return;
          if (job !== null && event.type !== 'changed' && !('jobId' in event)) return;
          if (ws.bufferedAmount > 1024 * 1024) {
            ws.terminate();
            return;
          }
          ws.send(JSON.stringify(event));
        });
        ws.on('close', unsubscribe);
        ws.on('error', unsubscribe);
      });
    },
    close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
