import { describe, expect, it } from 'vitest';
import type { AgentRequest, JobAssignment, ServerMessage } from '@baton/core';
import {
  MAX_FRAME_MESSAGES,
  MAX_FRAME_VALUES,
  MAX_SERVER_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  frameShape,
  packFrames,
} from '@baton/core';
import { frameServerMessages } from '../src/agents/agent-frames.js';
import { nested, poisonJob } from './agent-poison-fixture.js';

const heartbeat = (id: number): AgentRequest => ({ t: 'heartbeat', id, items: [] });
const assignment = (payload: unknown): JobAssignment => {
  const job = poisonJob(0);
  return { job: { ...job, payload } as unknown as JobAssignment['job'], leaseToken: `lease-${job.id}` };
};

describe('packFrames', () => {
  it('packs messages in order into frames of at most maxMessages', () => {
    const messages = Array.from({ length: 2 * MAX_FRAME_MESSAGES + 1 }, (_, i) => heartbeat(i));
    const { frames, failed } = packFrames(messages);
    expect(failed).toEqual([]);
    const decoded = frames.map((f) => decodeFrame(f));
    expect(decoded.map((d) => d.length)).toEqual([MAX_FRAME_MESSAGES, MAX_FRAME_MESSAGES, 1]);
    expect(decoded.flat()).toEqual(messages);
  });

  it('packs messages into frames of at most maxFrameBytes', () => {
    const chunk = { jobId: 'j', attempt: 1, stream: 'stdout' as const, data: 'x'.repeat(1000) };
    const messages: AgentRequest[] = Array.from({ length: 50 }, (_, id) => ({ t: 'logs', id, chunks: [chunk] }));
    const { frames, failed } = packFrames(messages, { maxFrameBytes: 10_000, maxMessages: 1000, maxValues: Infinity });
    expect(failed).toEqual([]);
    for (const frame of frames) expect(frame.length).toBeLessThanOrEqual(10_000);
    expect(frames.length).toBeGreaterThan(5);
    expect(frames.flatMap((f) => decodeFrame(f))).toEqual(messages);
  });

  it('packs messages into frames of at most maxValues values, counted without decoding', () => {
    const messages: AgentRequest[] = Array.from({ length: 5 }, (_, id) => ({
      t: 'complete',
      id,
      items: [{ jobId: 'j', leaseToken: 'l', outcome: 'succeeded', result: new Array(400_000).fill(0) }],
    }));
    const { frames, failed } = packFrames(messages);
    expect(failed).toEqual([]);
    expect(frames).toHaveLength(3);
    for (const frame of frames) expect(frameShape(frame).values).toBeLessThanOrEqual(MAX_FRAME_VALUES);
    expect(frames.flatMap((f) => decodeFrame(f))).toEqual(messages);
    const tooMany: AgentRequest = { t: 'heartbeat', id: 9, items: new Array(MAX_FRAME_VALUES).fill(0) };
    expect(packFrames([tooMany]).failed[0]?.reason).toBe(
      `it holds more than the ${MAX_FRAME_VALUES} values a frame may carry`,
    );
  });

  it('frameShape counts messages and values as decoding would see them', () => {
    const message = { t: 'x', list: [1, -1, 300, -40_000, 70_000, 2 ** 40, 1.5, 'a', 'b'.repeat(300), null, true] };
    const frame = encodeFrame([message, message] as never);
    // Per message: the map, 2 keys, 'x', the list and its 11 entries.
    expect(frameShape(frame)).toEqual({ messages: 2, values: 1 + 2 * 16 });
    expect(frameShape(frame, 5).values).toBe(6); // stops early
    expect(frameShape(Buffer.from([0xc0])).messages).toBe(-1);
  });

  it('returns a message that cannot be encoded, or is too large alone, instead of throwing', () => {
    const deep: AgentRequest = {
      t: 'complete',
      id: 2,
      items: [{ jobId: 'j', leaseToken: 'l', outcome: 'succeeded', result: nested(5000) }],
    };
    const big: AgentRequest = {
      t: 'logs',
      id: 3,
      chunks: [{ jobId: 'j', attempt: 1, stream: 'stdout', data: 'x'.repeat(20_000) }],
    };
    const { frames, failed } = packFrames([heartbeat(1), deep, big, heartbeat(4)], {
      maxFrameBytes: 10_000,
      maxMessages: 10,
      maxValues: 1000,
    });
    expect(frames.flatMap((f) => decodeFrame(f))).toEqual([heartbeat(1), heartbeat(4)]);
    expect(failed.map((f) => f.message)).toEqual([deep, big]);
    expect(failed[0]!.reason).toMatch(/^it is nested too deeply to encode/);
    expect(failed[1]!.reason).toMatch(/^it encodes to \d+ bytes, more than the 10000-byte frame limit$/);
  });
});

describe('frameServerMessages', () => {
  it('splits a delivery so only the assignment that cannot be encoded is undeliverable', () => {
    const [a, poison, b] = [assignment({ n: 1 }), assignment(nested(3000)), assignment({ n: 2 })];
    const reply: ServerMessage = { t: 'reply', id: 7, ok: true, result: null };
    const out = frameServerMessages([{ t: 'deliver', assignments: [a!, poison!, b!] }, reply]);
    expect(out.undeliverable.map((u) => u.assignment)).toEqual([poison]);
    expect(out.undeliverable[0]!.reason).toMatch(/nested too deeply/);
    const sent = out.frames.flatMap((f) => decodeFrame(f)) as ServerMessage[];
    expect(sent).toContainEqual(reply);
    const delivered = sent.flatMap((m) => (m.t === 'deliver' ? m.assignments.map((x) => x.job.id) : []));
    expect(delivered.sort()).toEqual([a!.job.id, b!.job.id].sort());
    expect(out.dropped).toEqual([]);
  });

  it('makes an assignment over the agent frame limit undeliverable', () => {
    const huge = assignment({ blob: 'z'.repeat(MAX_SERVER_FRAME_BYTES) });
    const out = frameServerMessages([{ t: 'deliver', assignments: [huge] }]);
    expect(out.frames).toEqual([]);
    expect(out.undeliverable[0]!.reason).toContain(`more than the ${MAX_SERVER_FRAME_BYTES}-byte frame limit`);
  });

  it('turns a reply that cannot be encoded into an error reply', () => {
    const out = frameServerMessages([{ t: 'reply', id: 9, ok: true, result: nested(5000) }]);
    const sent = out.frames.flatMap((f) => decodeFrame(f));
    expect(sent).toEqual([
      {
        t: 'reply',
        id: 9,
        ok: false,
        error: {
          code: 'UNENCODABLE_REPLY',
          message: expect.stringMatching(/^the server's reply cannot be encoded: it is nested too deeply/),
        },
      },
    ]);
  });
});
