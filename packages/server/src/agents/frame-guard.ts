import {
  INVALID_MESSAGE_WINDOW_MS,
  MAX_AGENT_QUEUES,
  MAX_AGENT_TASKS,
  MAX_FRAME_MESSAGES,
  MAX_FRAME_VALUES,
  MAX_INVALID_MESSAGES,
  MAX_ITEMS_PER_MESSAGE,
  MAX_ADDED_STEPS,
  MAX_LINGERING_JOBS,
  MAX_RESUMED_JOBS,
} from '@baton/core';
import type { FrameShape } from '@baton/core';

/** The lists a request may carry, with their limits (as in core's schemas). */
const LIST_LIMITS: [path: string[], max: number][] = [
  [['items'], MAX_ITEMS_PER_MESSAGE],
  [['chunks'], MAX_ITEMS_PER_MESSAGE],
  [['gpus'], MAX_ITEMS_PER_MESSAGE],
  [['jobs'], MAX_LINGERING_JOBS],
  [['steps'], MAX_ADDED_STEPS],
  [['registration', 'queues'], MAX_AGENT_QUEUES],
  [['registration', 'tasks'], MAX_AGENT_TASKS],
  [['registration', 'tags'], 100],
  [['registration', 'gpus'], 1024],
  [['registration', 'resume', 'jobs'], MAX_RESUMED_JOBS],
];

/**
 * Measures a raw message's lists before the schema sees it: validating costs time per entry
 * (most when entries are invalid), so an oversized list is refused without being looked at.
 * `weight` is what the message counts toward the invalid-message budget if it is invalid.
 */
export function measureLists(raw: unknown): { over: string | null; weight: number } {
  let largest = 0;
  for (const [path, max] of LIST_LIMITS) {
    let value: unknown = raw;
    for (const key of path)
      value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    if (!Array.isArray(value)) continue;
    if (value.length > max) {
      return { over: `${path.join('.')} holds ${value.length} entries; the limit is ${max}`, weight: 1 };
    }
    largest = Math.max(largest, value.length);
  }
  return { over: null, weight: Math.max(1, Math.ceil(largest / MAX_ITEMS_PER_MESSAGE)) };
}

/**
 * What one agent connection may cost the server beyond the frame size (checked by ws): at most
 * {@link MAX_FRAME_MESSAGES} messages and {@link MAX_FRAME_VALUES} values a frame, and at most {@link MAX_INVALID_MESSAGES} invalid
 * messages within {@link INVALID_MESSAGE_WINDOW_MS}. Past either, the connection is cut off: a
 * buggy or hostile agent makes the server validate and answer a bounded number of messages.
 */
export class AgentFrameGuard {
  /** Set once the connection is being closed: later messages, even in the same frame, are ignored. */
  closed = false;
  private invalidCount = 0;
  private windowStart = 0;

  constructor(
    private readonly limits = {
      maxMessages: MAX_FRAME_MESSAGES,
      maxValues: MAX_FRAME_VALUES,
      maxInvalid: MAX_INVALID_MESSAGES,
      windowMs: INVALID_MESSAGE_WINDOW_MS,
    },
  ) {}

  /** Why a frame of this shape cuts the agent off, or null when it may be decoded and handled. */
  checkFrame(shape: FrameShape): string | null {
    let why: string | null = null;
    if (shape.messages > this.limits.maxMessages) {
      why = `frame of ${shape.messages} messages; the limit is ${this.limits.maxMessages}`;
    } else if (shape.values > this.limits.maxValues) {
      why = `frame of more than ${this.limits.maxValues} values`;
    }
    if (why) this.closed = true;
    return why;
  }

  /**
   * Counts an invalid message (`weight` times for one with long lists, which cost more to
   * check); returns why the agent is cut off once the budget is spent.
   */
  invalid(now: number, weight = 1): string | null {
    if (now - this.windowStart >= this.limits.windowMs) {
      this.windowStart = now;
      this.invalidCount = 0;
    }
    this.invalidCount += weight;
    if (this.invalidCount <= this.limits.maxInvalid) return null;
    this.closed = true;
    return `more than ${this.limits.maxInvalid} invalid messages within ${this.limits.windowMs / 1000} s`;
  }
}
