import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { StoreEvent } from '../contract.js';
import { StoreEvents } from '../events.js';

/** NOTIFY payloads must stay under 8000 bytes; leave room for the envelope. */
const MAX_PAYLOAD_BYTES = 7000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

/** What travels on the channel: the sending store's id and its events. */
interface Envelope {
  o: string;
  e: StoreEvent[];
}

/**
 * Store events across processes. `publish` hands an event to this store's listeners at once
 * and queues it for NOTIFY on the schema's channel; the queue is sent in one `pg_notify` per
 * tick after the change committed. A dedicated client (not a pooled one) LISTENs on the
 * channel and delivers other stores' events; this store's own come back too and are dropped by
 * origin, so every listener sees each event exactly once. A dropped listening connection is
 * reconnected with backoff, and listeners then get a `changed` event, since notifications
 * sent while it was down are lost.
 */
export class EventRelay {
  private readonly events = new StoreEvents();
  private readonly origin = randomUUID();
  private outbox: StoreEvent[] = [];
  private flushing: Promise<void> | null = null;
  private listener: pg.Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelayMs = RECONNECT_MIN_MS;
  private reconnecting: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly clientConfig: pg.ClientConfig,
    private readonly channel: string,
  ) {}

  subscribe(listener: (event: StoreEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  /** Starts listening; resolves once LISTEN is in place, so events sent after it arrive. */
  async listen(): Promise<void> {
    const client = new pg.Client(this.clientConfig);
    client.on('error', () => this.dropped(client));
    client.on('end', () => this.dropped(client));
    client.on('notification', (msg) => {
      if (msg.channel === this.channel && msg.payload) this.received(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteChannel(this.channel)}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      return;
    }
    // Only now does a drop of this client count: a failed connect is the caller's to handle.
    this.listener = client;
    this.reconnectDelayMs = RECONNECT_MIN_MS;
  }

  publish(event: StoreEvent): void {
    this.events.emit(event);
    if (this.closed) return;
    this.outbox.push(event);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  /**
   * Resolves once every event published so far has been handed to `pg_notify` (or its send
   * failed: like every event, a lost one is a lost wake-up, not lost work).
   */
  async sent(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Stops listening and sends what is still queued. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    await this.reconnecting;
    await this.flushing;
    const client = this.listener;
    this.listener = null;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }

  private async flush(): Promise<void> {
    const events = this.outbox;
    this.outbox = [];
    try {
      for (const payload of envelopes(this.origin, events)) {
        await this.pool.query('SELECT pg_notify($1, $2)', [this.channel, payload]);
      }
    } catch {
      // A lost wake-up is not lost work: schedulers also sweep on their timers.
    } finally {
      this.flushing = null;
      if (this.outbox.length > 0 && !this.closed) this.flushing = this.flush();
    }
  }

  private received(payload: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
    } catch {
      return; // not ours
    }
    if (envelope.o === this.origin || !Array.isArray(envelope.e)) return;
    for (const event of envelope.e) this.events.emit(event);
  }

  private dropped(client: pg.Client): void {
    if (this.closed || this.listener !== client) return;
    this.listener = null;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.closed) return;
      this.reconnecting = this.listen().then(
        // Notifications sent while the connection was down are lost: wake everyone once.
        () => {
          if (!this.closed) this.events.emit({ type: 'changed' });
        },
        () => {
          this.reconnectDelayMs = Math.min(RECONNECT_MAX_MS, this.reconnectDelayMs * 2);
          if (!this.closed) this.scheduleReconnect();
        },
      );
      void this.reconnecting.finally(() => {
        this.reconnecting = null;
      });
    }, this.reconnectDelayMs);
    this.reconnectTimer.unref();
  }
}

/**
 * Events packed into as few payloads as fit; an `enqueued` naming too many queues, or an `offer`
 * with too many placements, is split.
 */
export function envelopes(origin: string, events: readonly StoreEvent[]): string[] {
  const out: string[] = [];
  let batch: StoreEvent[] = [];
  let size = 0;
  const push = (event: StoreEvent): void => {
    const bytes = Buffer.byteLength(JSON.stringify(event), 'utf8');
    if (bytes > MAX_PAYLOAD_BYTES && event.type === 'enqueued' && event.queues.length > 1) {
      const half = Math.ceil(event.queues.length / 2);
      push({ ...event, queues: event.queues.slice(0, half) });
      push({ ...event, queues: event.queues.slice(half) });
      return;
    }
    if (bytes > MAX_PAYLOAD_BYTES && event.type === 'offer' && event.placements.length > 1) {
      // Each part is an offer of its own to the same server, which admits each as it comes.
      const half = Math.ceil(event.placements.length / 2);
      push({ ...event, placements: event.placements.slice(0, half) });
      push({ ...event, placements: event.placements.slice(half) });
      return;
    }
    if (bytes > MAX_PAYLOAD_BYTES) return; // one queue name or job id this long is not Baton's
    if (size + bytes > MAX_PAYLOAD_BYTES && batch.length > 0) {
      out.push(JSON.stringify({ o: origin, e: batch } satisfies Envelope));
      batch = [];
      size = 0;
    }
    batch.push(event);
    size += bytes + 1;
  };
  for (const event of events) push(event);
  if (batch.length > 0) out.push(JSON.stringify({ o: origin, e: batch } satisfies Envelope));
  return out;
}

const quoteChannel = (channel: string): string => `"${channel.replace(/"/g, '""')}"`;
