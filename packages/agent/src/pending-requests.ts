import type { AgentRequest } from '@baton/core';
import { BatonError } from '@baton/core';

/** A request sent (or to be sent) and not yet answered. */
export interface PendingRequest {
  /** What goes on the wire; replaced when the request must be sent in another form. */
  message: AgentRequest;
  resolve(result: unknown): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

/**
 * The link's unanswered requests, by id, and those held back until the link is registered.
 * Each fails on its own after `timeoutMs`, connected or not.
 */
export class PendingRequests {
  private readonly inFlight = new Map<number, PendingRequest>();
  /** Requests waiting for the link to be registered, in the order they go out. */
  private waiting: AgentRequest[] = [];

  constructor(private readonly timeoutMs: number) {}

  /** The answer to `message`, once {@link take}n and settled; rejects on timeout. */
  track(message: AgentRequest): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timeoutMs = this.timeoutMs;
      const timer = setTimeout(() => {
        this.inFlight.delete(message.id);
        this.waiting = this.waiting.filter((m) => m !== message);
        reject(new BatonError('AGENT_REQUEST_TIMEOUT', `no answer to ${message.t} within ${timeoutMs} ms`, 504));
      }, timeoutMs);
      timer.unref();
      this.inFlight.set(message.id, { message, resolve, reject, timer });
    });
  }

  get(id: number): PendingRequest | undefined {
    return this.inFlight.get(id);
  }

  /** Removes a request to settle it (its timer stopped); undefined when it is no longer pending. */
  take(id: number): PendingRequest | undefined {
    const entry = this.inFlight.get(id);
    if (!entry) return undefined;
    this.inFlight.delete(id);
    clearTimeout(entry.timer);
    return entry;
  }

  /** Holds a tracked request until the link is registered. */
  hold(message: AgentRequest): void {
    this.waiting.push(message);
  }

  /** The held requests, in order, to be sent now that the link is registered. */
  release(): AgentRequest[] {
    const waiting = this.waiting;
    this.waiting = [];
    return waiting;
  }

  /**
   * The connection was lost: a registration in flight fails; every other unanswered request is
   * held to go out again once registered (reports are idempotent by lease token).
   */
  holdUnanswered(): void {
    const unanswered = [...this.inFlight.values()]
      .map((f) => f.message)
      .filter((m) => m.t !== 'register' && !this.waiting.includes(m));
    for (const f of [...this.inFlight.values()]) {
      if (f.message.t === 'register') {
        clearTimeout(f.timer);
        this.inFlight.delete(f.message.id);
        f.reject(new BatonError('UNREACHABLE', 'connection lost while registering', 503));
      }
    }
    this.waiting = [...unanswered, ...this.waiting].sort((a, b) => a.id - b.id);
  }

  /** Fails every request, sent or held. */
  rejectAll(err: Error): void {
    for (const f of this.inFlight.values()) {
      clearTimeout(f.timer);
      f.reject(err);
    }
    this.inFlight.clear();
    this.waiting = [];
  }
}
