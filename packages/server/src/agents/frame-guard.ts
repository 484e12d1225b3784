import { INVALID_MESSAGE_WINDOW_MS, MAX_FRAME_MESSAGES, MAX_INVALID_MESSAGES } from '@baton/core';

/**
 * What one agent connection may cost the server beyond the frame size (checked by ws): at most
 * {@link MAX_FRAME_MESSAGES} messages a frame, and at most {@link MAX_INVALID_MESSAGES} invalid
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
      maxInvalid: MAX_INVALID_MESSAGES,
      windowMs: INVALID_MESSAGE_WINDOW_MS,
    },
  ) {}

  /** Why a frame of `count` messages cuts the agent off, or null when it may be handled. */
  checkFrame(count: number): string | null {
    if (count <= this.limits.maxMessages) return null;
    this.closed = true;
    return `frame of ${count} messages; the limit is ${this.limits.maxMessages}`;
  }

  /** Counts one invalid message; returns why the agent is cut off when it was one too many. */
  invalid(now: number): string | null {
    if (now - this.windowStart >= this.limits.windowMs) {
      this.windowStart = now;
      this.invalidCount = 0;
    }
    if (++this.invalidCount <= this.limits.maxInvalid) return null;
    this.closed = true;
    return `more than ${this.limits.maxInvalid} invalid messages within ${this.limits.windowMs / 1000} s`;
  }
}
