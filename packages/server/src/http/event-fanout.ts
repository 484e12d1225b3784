import type { Store, StoreEvent } from '@baton/store';
import { PUBLIC_TYPES } from './event-stream.js';

/** An event for clients, with its JSON made once for all of them. */
export interface OutgoingEvent {
  event: StoreEvent;
  json: string;
}

/** How long events gather before they go out together (ms), once they come faster than this. */
export const DEFAULT_WINDOW_MS = 25;

/**
 * The one subscription to the store behind every `/api/events` client of this server. Events
 * are wake-ups, not a log, so those that arrive within a short window go out merged: every
 * `enqueued` as one naming all their queues, every `changed` as one, each job's `logs` once,
 * each server's `capacity` once (a `dueAt` merges to the earliest). At 1 000 jobs/s that is a
 * few dozen messages a second per client instead of thousands, each made into JSON once for all
 * clients, and none of it runs inside the store call that announced the event. The first event
 * after a quiet spell goes out at once (on the next turn of the event loop), so a quiet fleet
 * hears of a change without the window's delay.
 */
export class EventFanout {
  private readonly clients = new Set<(batch: readonly OutgoingEvent[]) => void>();
  private unsubscribe: (() => void) | null = null;
  private pending = new Map<string, StoreEvent>();
  private scheduled = false;
  private lastFlush = 0;

  constructor(
    private readonly store: Store,
    private readonly windowMs = DEFAULT_WINDOW_MS,
  ) {}

  /** Adds a client; the returned function removes it. */
  add(client: (batch: readonly OutgoingEvent[]) => void): () => void {
    this.clients.add(client);
    this.unsubscribe ??= this.store.subscribe((event) => this.take(event));
    return () => {
      this.clients.delete(client);
      if (this.clients.size === 0) {
        this.unsubscribe?.();
        this.unsubscribe = null;
        this.pending.clear();
      }
    };
  }

  get size(): number {
    return this.clients.size;
  }

  private take(event: StoreEvent): void {
    if (!PUBLIC_TYPES.has(event.type)) return;
    const key = keyOf(event);
    const earlier = this.pending.get(key);
    this.pending.set(key, earlier ? merge(earlier, event) : event);
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.lastFlush + this.windowMs - Date.now();
    if (wait <= 0) setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), wait).unref();
  }

  private flush(): void {
    this.scheduled = false;
    this.lastFlush = Date.now();
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()].map((event) => ({ event, json: JSON.stringify(event) }));
    this.pending = new Map();
    for (const client of this.clients) client(batch);
  }
}

/** Events with the same key merge into one. */
function keyOf(event: StoreEvent): string {
  switch (event.type) {
    case 'enqueued':
    case 'changed':
      return event.type;
    case 'logs':
      return `logs:${event.jobId}`;
    case 'cancelled':
      return `cancelled:${event.jobId}:${event.agentId ?? ''}`;
    case 'capacity':
      return `capacity:${event.serverId}`;
    default:
      return `${event.type}:${JSON.stringify(event)}`;
  }
}

function merge(a: StoreEvent, b: StoreEvent): StoreEvent {
  if (a.type === 'enqueued' && b.type === 'enqueued') {
    const queues = [...new Set([...a.queues, ...b.queues])];
    const dueAt = earliest(a.dueAt, b.dueAt);
    return dueAt === undefined ? { type: 'enqueued', queues } : { type: 'enqueued', queues, dueAt };
  }
  if (a.type === 'changed' && b.type === 'changed') {
    const dueAt = earliest(a.dueAt, b.dueAt);
    return dueAt === undefined ? { type: 'changed' } : { type: 'changed', dueAt };
  }
  return b;
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
