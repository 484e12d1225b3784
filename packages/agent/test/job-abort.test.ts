import { describe, expect, it } from 'vitest';
import { JobAbort } from '../src/job-abort.js';

describe('JobAbort', () => {
  it('rejects the abort promise with the first reason only', async () => {
    const abort = new JobAbort();
    const rejected = abort.whenAborted();
    abort.abort(new Error('first'));
    abort.abort(new Error('second'));
    await expect(rejected).rejects.toThrow('first');
    await expect(abort.whenAborted()).rejects.toThrow('first');
  });

  it('gives a signal that aborts with the reason, whether asked for before or after the abort', () => {
    const early = new JobAbort();
    const signal = early.signal;
    const seen: unknown[] = [];
    signal.addEventListener('abort', () => seen.push(signal.reason));
    early.abort('cancelled');
    expect(signal.aborted).toBe(true);
    expect(seen).toEqual(['cancelled']);

    const late = new JobAbort();
    late.abort('timed out');
    expect(late.signal.aborted).toBe(true);
    expect(late.signal.reason).toBe('timed out');
  });

  it('stays quiet until aborted', async () => {
    const abort = new JobAbort();
    const outcome = await Promise.race([
      abort.whenAborted().then(
        () => 'aborted',
        () => 'aborted',
      ),
      Promise.resolve('running'),
    ]);
    expect(outcome).toBe('running');
    expect(abort.signal.aborted).toBe(false);
  });
});
