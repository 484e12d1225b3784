import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { BatonError, RetryLaterError } from '@baton/core';
import type { Store, StoreEvent } from '@baton/store';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { Authenticator } from '../auth/authenticator.js';
import { actingFor } from '../auth/authenticator.js';
import { JobOwners } from '../auth/job-owners.js';
import type { Principal } from '../auth/principal.js';
import { isAdmin, mayView } from '../auth/principal.js';
import { EventFanout } from './event-fanout.js';
import type { EventInterest } from './event-stream.js';
import { PUBLIC_TYPES, streamEvents } from './event-stream.js';
import type { UpgradeEndpoint } from './upgrades.js';
import { refuse } from './upgrades.js';

export const EVENTS_PATH = '/api/events';

/** How long a socket opened without a token has to send its `auth` message. */
export const AUTH_MESSAGE_TIMEOUT_MS = 5000;
/** Bytes a message may have (the `auth` message included); a larger one closes the socket (1009). */
const MAX_MESSAGE_BYTES = 4096;

/** Close codes of a socket whose `auth` message failed: the HTTP status, in the 4xxx range. */
const CLOSE_CODES: Record<number, number> = { 401: 4401, 403: 4403, 404: 4404, 429: 4429 };

/**
 * `GET /api/events` (WebSocket): the store's events as JSON text messages, one event each
 * (those of a short window merged: event-fanout.ts) —
 * from every server on the store, since they travel through it (NOTIFY, pub/sub). `?types=a,b`
 * narrows them; `?job=ID` keeps only that job's `cancelled` and `logs` events plus `changed`.
 * What each role hears: event-stream.ts. A client that reads too slowly (over 1 MiB buffered)
 * is disconnected.
 *
 * Two ways in. With an `Authorization: Bearer` header, the token is checked before the
 * upgrade (refused with an HTTP status). A browser cannot set that header on a WebSocket, so an
 * upgrade without one is accepted, and the socket hears nothing until its first message, which
 * must come within 5 s and be `{"type":"auth","token":"…"}`: then `{"type":"ready","name",
 * "role"}` and the stream, or a close with 4401 (bad or missing token, malformed message,
 * timeout), 4403, 4404 (`?job=` not theirs) or 4429 (too many bad tokens from the address:
 * they count like bad headers). The token travels in the message only, never in the URL, and
 * is never logged.
 */
export function eventsSocket(store: Store, auth: Authenticator): UpgradeEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const owners = new JobOwners(store);
  const deps = { fanout: new EventFanout(store), owners };
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
      const interest: EventInterest = { types, job: url.searchParams.get('job') };
      const address = request.socket.remoteAddress ?? 'unknown';
      const header = request.headers.authorization;
      if (auth.enabled && (header === undefined || header === '')) {
        wss.handleUpgrade(request, socket, head, (ws) => awaitAuthMessage(ws, request.headers, address));
        return;
      }
      authorize(auth, owners, request.headers, address, interest.job)
        .then((principal) => {
          wss.handleUpgrade(request, socket, head, (ws) => streamEvents(ws, deps, principal, interest));
        })
        .catch((err: unknown) => {
          if (err instanceof BatonError) {
            const headers: Record<string, string> =
              err instanceof RetryLaterError ? { 'Retry-After': String(err.retryAfterS) } : {};
            return refuse(socket, err.httpStatus, err.code, err.message, headers);
          }
          refuse(socket, 500, 'INTERNAL', 'internal error; see the server log');
        });

      /** The browser's way in: the token in the first message, in time. */
      function awaitAuthMessage(ws: WebSocket, headers: IncomingHttpHeaders, from: string): void {
        const timer = setTimeout(() => ws.close(4401, 'no auth message within 5 s'), AUTH_MESSAGE_TIMEOUT_MS);
        timer.unref();
        ws.once('close', () => clearTimeout(timer));
        // A message over the size limit is an error on the socket, which then closes (1009).
        ws.on('error', () => clearTimeout(timer));
        ws.once('message', (data, isBinary) => {
          clearTimeout(timer);
          const token = isBinary ? null : tokenOf(String(data));
          if (token === null) return ws.close(4401, 'the first message must be {"type":"auth","token":"…"}');
          authorize(auth, owners, { ...headers, authorization: `Bearer ${token}` }, from, interest.job)
            .then((principal) => {
              if (ws.readyState !== ws.OPEN) return;
              ws.send(JSON.stringify({ type: 'ready', name: principal.name, role: principal.role }));
              streamEvents(ws, deps, principal, interest);
            })
            .catch((err: unknown) => {
              const status = err instanceof BatonError ? err.httpStatus : 500;
              const code = CLOSE_CODES[status] ?? 1011;
              // The reason is the error's own message: it never holds the token.
              const reason = err instanceof BatonError ? err.message : 'internal error; see the server log';
              ws.close(code, reason.slice(0, 120));
            });
        });
      }
    },
    close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

/** The token of an `auth` message, or null when the message is anything else. */
function tokenOf(text: string): string | null {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null) return null;
  const { type, token } = message as { type?: unknown; token?: unknown };
  // A token is printable and has no spaces: anything else could not be a header's either.
  if (type !== 'auth' || typeof token !== 'string' || !/^[\x21-\x7e]{1,1024}$/.test(token)) return null;
  return token;
}

/** The principal of an events client; a user following one job must own it (else a 404). */
async function authorize(
  auth: Authenticator,
  owners: JobOwners,
  headers: IncomingHttpHeaders,
  address: string,
  job: string | null,
): Promise<Principal> {
  const principal = await auth.authenticate(headers, address);
  const acting = actingFor(headers);
  if (acting !== undefined && acting !== principal.name && !isAdmin(principal)) {
    throw new BatonError('FORBIDDEN', 'only an admin may act for another user (X-Baton-User)', 403);
  }
  if (job !== null && !mayView(principal, (await owners.of(job)) ?? '')) {
    throw new BatonError('JOB_NOT_FOUND', `job ${job} not found`, 404);
  }
  return principal;
}
