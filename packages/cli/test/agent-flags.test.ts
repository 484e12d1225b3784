import { describe, expect, it } from 'vitest';
import { poolOptionsFromFlags } from '../src/agent-flags.js';
import { closedPort, runBaton } from './baton-run.js';

/** `baton agent`'s priority-pool and preemption flags, checked before the agent connects. */
describe('baton agent --priorities / --preemptible flags', () => {
  it('turns the flags into the agent options; none given: every class, not preemptible', () => {
    expect(poolOptionsFromFlags({ preemptible: false })).toEqual({});
    expect(poolOptionsFromFlags({ priorities: 'high, normal', preemptible: false })).toEqual({
      priorities: ['high', 'normal'],
    });
    expect(
      poolOptionsFromFlags({ preemptible: true, preemptGraceMs: 5000, minRuntimeMs: 0, priorities: 'low,normal,high' }),
    ).toEqual({ priorities: ['low', 'normal', 'high'], preemptible: true, preemptGraceMs: 5000, minRuntimeMs: 0 });
  });

  it.each([
    [{ priorities: 'urgent', preemptible: false }, '--priorities: unknown class "urgent": use high, normal, low'],
    [{ priorities: ',', preemptible: false }, '--priorities must name one or more of high, normal, low'],
    [{ priorities: 'high,high', preemptible: false }, '--priorities: "high" is listed twice'],
    [
      { priorities: 'high', preemptible: true },
      '--priorities high with --preemptible: an agent dedicated to high cannot also be preemptible: a preemptible agent takes work of every class',
    ],
    [
      { preemptible: false, preemptGraceMs: 10 },
      '--preempt-grace-ms and --min-runtime-ms are for preemptible agents: add --preemptible',
    ],
    [
      { preemptible: false, minRuntimeMs: 10 },
      '--preempt-grace-ms and --min-runtime-ms are for preemptible agents: add --preemptible',
    ],
  ])('refuses %j', (flags, message) => {
    expect(() => poolOptionsFromFlags(flags)).toThrow(expect.objectContaining({ message, exitCode: 2 }));
  });

  it('exits 2 with the message before connecting', async () => {
    const server = `http://127.0.0.1:${await closedPort()}`;
    const base = ['agent', '--server', server, '--token', 'agent-token-0123456789', '--demo'];
    const cases: [string[], RegExp][] = [
      [['--priorities', 'high', '--preemptible'], /dedicated to high cannot also be preemptible/],
      [['--preempt-grace-ms', '-1', '--preemptible'], /--preempt-grace-ms must be an integer from 0 to 3600000/],
      [['--min-runtime-ms', 'soon', '--preemptible'], /--min-runtime-ms must be an integer from 0 to 604800000/],
      [['--priorities', 'urgent'], /unknown class "urgent"/],
    ];
    for (const [args, message] of cases) {
      const run = await runBaton([...base, ...args]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });
});
