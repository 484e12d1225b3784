import { fileURLToPath } from 'node:url';
import type { Timings } from './job-timings.js';
import { nextMessage, startBaton, stopChild } from './processes.js';

/** The task module `baton agent --tasks` loads: the no-op tasks, timed on the agent's side. */
const TASKS = fileURLToPath(new URL('./agent-tasks.js', import.meta.url));

export interface RemoteAgent {
  pid: number | undefined;
  /** Lets the loaded process connect and register; resolves when it has (its "connected … as agent-…" line). */
  connect(): Promise<void>;
  /** Resolves once `expected` distinct jobs have run; rejects if the process exits first. */
  handled: Promise<void>;
  /** The handlers' timings so far, the agent's CPU since its first job and its peak RSS. */
  report(timeoutMs?: number): Promise<{ timings: Timings; cpuMs: number | null; rssMb: number }>;
  /** SIGTERM (the agent drains and unregisters), SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/**
 * Starts a `baton agent` process (the built CLI) for `url` (WebSocket protocol), with
 * `concurrency` slots, serving the benchmark's no-op tasks from `agent-tasks.js`; resolves once
 * it has loaded, before it connects: {@link RemoteAgent.connect} lets it go on.
 */
export async function startRemoteAgent(options: {
  url: string;
  agentToken: string;
  concurrency: number;
  expected: number;
  name?: string;
  timeoutMs?: number;
}): Promise<RemoteAgent> {
  const child = startBaton(
    [
      'agent',
      '--server',
      options.url,
      '--name',
      options.name ?? 'bench-remote',
      '--tasks',
      TASKS,
      '--slots',
      String(options.concurrency),
      // No nvidia-smi probe: the no-op jobs need no GPU, and the probe would cost start-up time.
      '--gpus',
      '0',
      '--log-level',
      'warn',
    ],
    { BATON_AGENT_TOKEN: options.agentToken, BENCH_EXPECT_JOBS: String(options.expected) },
    { ipc: true },
  );
  const { proc } = child;
  const handled = new Promise<void>((resolve, reject) => {
    const onMessage = (m: { type?: string }) => {
      if (m.type !== 'handled') return;
      proc.off('exit', onExit);
      resolve();
    };
    const onExit = (code: number | null, signal: string | null) => {
      proc.off('message', onMessage);
      reject(new Error(`the agent process exited (${code ?? signal}) before running every job:\n${child.output()}`));
    };
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
  handled.catch(() => {}); // observed by the caller when it waits; never an unhandled rejection
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    await nextMessage(proc, 'ready', timeoutMs);
  } catch (err) {
    await stopChild(proc, 1000);
    throw new Error(
      `the agent process did not load: ${err instanceof Error ? err.message : String(err)}\n${child.output()}`,
    );
  }
  return {
    pid: proc.pid,
    async connect() {
      proc.send({ type: 'go' });
      await child.waitFor(/connected to \S+ as (agent-\S+):/, timeoutMs);
    },
    handled,
    async report(timeoutMs = 30_000) {
      const reply = nextMessage<{ timings: Timings; cpuMs: number | null; rssMb: number }>(proc, 'timings', timeoutMs);
      proc.send({ type: 'report' });
      return reply;
    },
    stop: () => stopChild(proc, 5000),
  };
}
