import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { StoreEvent } from '../contract.js';
import { StoreEvents } from '../events.js';

/**
 * Store events across processes: a change is delivered to this store's listeners at once and
 * PUBLISHed on the prefix's channel with this store's origin id; the subscriber connection
 * delivers other stores' events and drops this one's own, so every listener sees each event
 * once. Pub/sub is fire-and-forget: a scheduler's periodic sweep covers a missed wake-up.
 */
export class RedisEvents {
  private readonly events = new StoreEvents();
  /** Marks this store's own messages, which its listeners already had. */
  private readonly origin = randomUUID();

  constructor(
    private readonly client: Redis | Cluster,
    private readonly channel: string,
  ) {}

  subscribe(listener: (event: StoreEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  /** Tells local listeners now, and other processes through pub/sub (fire and forget). */
  emit(event: StoreEvent): void {
    this.sent(event).catch(() => {});
  }

  /** Tells local listeners now; resolves once the message is PUBLISHed to other processes. */
  async sent(event: StoreEvent): Promise<void> {
    this.events.emit(event);
    await this.client.publish(this.channel, JSON.stringify({ o: this.origin, e: event }));
  }

  /** Delivers other stores' events that arrive on `subscriber` (a dedicated connection). */
  async listen(subscriber: Redis | Cluster): Promise<void> {
    subscriber.on('message', (channel: string, message: string) => this.delivered(channel, message));
    await subscriber.subscribe(this.channel);
  }

  private delivered(channel: string, message: string): void {
    if (channel !== this.channel) return;
    let parsed: { o?: string; e?: StoreEvent };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.o !== this.origin && parsed.e) this.events.emit(parsed.e);
  }
}
