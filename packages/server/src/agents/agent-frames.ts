import type { JobAssignment, ServerMessage } from '@baton/core';
import { MAX_FRAME_MESSAGES, MAX_SERVER_FRAME_BYTES, packFrames } from '@baton/core';

/** What one flush of an agent's outbox becomes. */
export interface ServerFrames {
  frames: Buffer[];
  /** Assignments that cannot reach the agent (their payload cannot be encoded, or is too large). */
  undeliverable: { assignment: JobAssignment; reason: string }[];
  /** Other messages that could not be encoded, for the log. */
  dropped: { message: ServerMessage; reason: string }[];
}

/**
 * Frames the server's messages to one agent. A message that cannot be encoded fails alone: a
 * delivery is split into one message per assignment, so only the jobs that cannot be encoded
 * are undeliverable; a reply that cannot be encoded becomes an error reply. The send path
 * never throws, so no job's payload can take the server down.
 */
export function frameServerMessages(messages: readonly ServerMessage[]): ServerFrames {
  const out: ServerFrames = { frames: [], undeliverable: [], dropped: [] };
  let pending = messages;
  // At most three rounds: whole messages, then single assignments, then error replies.
  for (let round = 0; round < 3 && pending.length > 0; round++) {
    // Values are not counted: the agent trusts its server's frames (and payloads may hold many).
    const { frames, failed } = packFrames(pending, {
      maxFrameBytes: MAX_SERVER_FRAME_BYTES,
      maxMessages: MAX_FRAME_MESSAGES,
      maxValues: Infinity,
    });
    out.frames.push(...frames);
    const retry: ServerMessage[] = [];
    for (const { message, reason } of failed) {
      if (message.t === 'deliver' && message.assignments.length > 1) {
        for (const assignment of message.assignments) retry.push({ t: 'deliver', assignments: [assignment] });
      } else if (message.t === 'deliver') {
        for (const assignment of message.assignments) out.undeliverable.push({ assignment, reason });
      } else if (message.t === 'reply' && message.ok) {
        const error = { code: 'UNENCODABLE_REPLY', message: `the server's reply cannot be encoded: ${reason}` };
        retry.push({ t: 'reply', id: message.id, ok: false, error });
      } else {
        out.dropped.push({ message, reason });
      }
    }
    pending = retry;
  }
  for (const message of pending) out.dropped.push({ message, reason: 'it could not be encoded' });
  return out;
}
