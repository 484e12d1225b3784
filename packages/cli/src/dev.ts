import type { Command } from 'commander';
import { destination, pino } from 'pino';
import { Agent, demoTasks } from '@baton/agent';
import { BatonError, DEFAULT_PORT } from '@baton/core';
import { DEFAULT_STORE_URL, openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer } from '@baton/server';
import { CliError, intOption } from './cli-error.js';
import { runDemo } from './demo.js';

interface DevOptions {
  port: number;
  host: string;
  store: string;
  agents: number;
  concurrency: number;
  demo: boolean;
  leaseMs?: number;
  heartbeatMs?: number;
  maxPayloadBytes?: number;
  logLevel: string;
}

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('run API, scheduler, embedded store and local agents in one process')
    .option('--port <n>', 'HTTP port (0 picks a free one)', intOption('--port', 0, 65535), DEFAULT_PORT)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--store <url>', 'store URL (or BATON_STORE)', process.env.BATON_STORE ?? DEFAULT_STORE_URL)
    .option('--agents <n>', 'in-process agents to start', intOption('--agents', 0, 64), 1)
    .option('--concurrency <n>', 'jobs each agent runs at once', intOption('--concurrency', 1, 10_000), 8)
    .option('--demo', 'also submit a small demo workload and report as it runs', false)
    .option(
      '--lease-ms <ms>',
      'lease of an assignment without a heartbeat (default 10000)',
      intOption('--lease-ms', 100),
    )
    .option('--heartbeat-ms <ms>', 'agent heartbeat interval (default lease/5)', intOption('--heartbeat-ms', 10))
    .option('--max-payload-bytes <n>', 'largest job payload (default 1048576)', intOption('--max-payload-bytes', 1))
    .option('--log-level <level>', 'fatal | error | warn | info | debug', 'warn')
    .action(async (options: DevOptions) => {
      await runDev(options);
    });
}

async function runDev(options: DevOptions): Promise<void> {
  const logger = pino({ level: options.logLevel }, destination(2));
  let store: Store;
  try {
    store = await openStore(options.store);
  } catch (err) {
    throw new CliError(`cannot open store ${options.store}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let server: BatonServer;
  try {
    server = createBatonServer(store, {
      logger,
      ...(options.leaseMs !== undefined && { leaseMs: options.leaseMs }),
      ...(options.heartbeatMs !== undefined && { heartbeatMs: options.heartbeatMs }),
      ...(options.maxPayloadBytes !== undefined && { maxPayloadBytes: options.maxPayloadBytes }),
    });
  } catch (err) {
    await store.close();
    if (err instanceof BatonError) throw new CliError(err.message, 2);
    throw err;
  }
  const agents = Array.from(
    { length: options.agents },
    (_, i) =>
      new Agent({
        link: server.localLink(),
        tasks: demoTasks,
        concurrency: options.concurrency,
        name: `local-${i + 1}`,
        logger,
      }),
  );
  let url: string;
  try {
    url = await server.listen(options.port, options.host);
  } catch (err) {
    await server.close();
    await store.close();
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE')
      throw new CliError(`port ${options.port} is already in use; pass --port with another one`);
    throw err;
  }
  for (const agent of agents) await agent.start();

  let stopping: Promise<void> | null = null;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      process.stdout.write(`\n${signal}: draining agents and stopping…\n`);
      await Promise.all(agents.map((a) => a.stop(5000)));
      await server.close();
      await store.close();
    })();
    return stopping;
  };
  process.once('SIGINT', () => void stop('SIGINT').then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop('SIGTERM').then(() => process.exit(0)));

  process.stdout.write(
    [
      `Baton dev listening on ${url}`,
      `  store:  ${options.store}`,
      `  agents: ${options.agents} in-process × ${options.concurrency} slots (tasks: ${demoTasks.map((t) => t.name).join(', ')})`,
      `  try:    curl -s -X POST ${url}/api/jobs -H 'content-type: application/json' -d '{"task":"demo.sleep","payload":{"ms":500}}'`,
      '',
    ].join('\n'),
  );
  if (options.demo) {
    if (options.agents === 0) process.stdout.write('demo: no agents (--agents 0), so demo jobs will wait\n');
    await runDemo(url, (line) => process.stdout.write(`${line}\n`));
  }
}
