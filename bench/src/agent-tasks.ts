import { defineTask } from '@baton/agent';
import { BENCH_QUEUE, LATENCY_TASK, NOOP_TASK, TimingRecorder, noopHandler } from './job-timings.js';

/**
 * The benchmark's no-op tasks for a `baton agent --tasks bench/dist/agent-tasks.js` process
 * (`--agent remote`). The handlers time themselves here, on the agent's side, as the in-process
 * agent's do; the bench, which started this process with an IPC channel, gets:
 * - `{ type: 'ready' }` once loaded: `baton agent` imports this module before it connects, and
 *   the import waits here for `{ type: 'go' }`, so the process's start-up (node, the CLI's
 *   modules) is done before the bench's clock runs, and only connecting and registering after;
 * - `{ type: 'handled' }` once BENCH_EXPECT_JOBS distinct jobs have run;
 * - on `{ type: 'report' }`: `{ type: 'timings', timings, cpuMs, rssMb }`, where `cpuMs` is
 *   this process's user + system CPU since the first handler started and `rssMb` its peak RSS.
 */
const expected = Number(process.env.BENCH_EXPECT_JOBS ?? '0');
let cpu0: NodeJS.CpuUsage | null = null;
const recorder = new TimingRecorder(expected, () => process.send?.({ type: 'handled' }));
const timed = noopHandler(recorder);
const handler = (payload: { i: number; t: number }) => {
  const done = timed(payload);
  cpu0 ??= process.cpuUsage();
  return done;
};

export const benchNoop = defineTask(NOOP_TASK, handler, { queue: BENCH_QUEUE });
export const benchLatency = defineTask(LATENCY_TASK, handler, { queue: BENCH_QUEUE });

process.on('message', (m: { type?: string }) => {
  if (m.type !== 'report') return;
  const cpu = cpu0 === null ? null : process.cpuUsage(cpu0);
  process.send?.({
    type: 'timings',
    timings: recorder.timings,
    cpuMs: cpu === null ? null : (cpu.user + cpu.system) / 1000,
    rssMb: process.resourceUsage().maxRSS / 1024,
  });
});
// The bench gone (its channel closed): stop as on SIGTERM rather than linger as an orphan.
process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));

if (process.send) {
  const go = new Promise<void>((resolve) => {
    const onGo = (m: { type?: string }) => {
      if (m.type !== 'go') return;
      process.off('message', onGo);
      resolve();
    };
    process.on('message', onGo);
  });
  process.send({ type: 'ready' });
  await go;
}
