import type { Command } from 'commander';
import { Agent, demoTasks } from '@baton/agent';
import { DEFAULT_PORT } from '@baton/core';
import { DEFAULT_STORE_URL } from '@baton/store';
import { intOption } from './cli-error.js';
import { runDemo } from './demo.js';
import { devAdminToken, saveDevAdminToken } from './dev-admin.js';
import type { ServeOptions } from './serve.js';
import { agentHint, onShutdown, serve, serveLogger, withServeOptions } from './serve.js';

interface DevOptions extends ServeOptions {
  agents: number;
  concurrency: number;
  demo: boolean;
}

export function registerDevCommand(program: Command): void {
  withServeOptions(
    program.command('dev').description('run API, scheduler, embedded store and local agents in one process'),
    { store: DEFAULT_STORE_URL, port: DEFAULT_PORT },
  )
    .option('--agents <n>', 'in-process agents to start', intOption('--agents', 0, 64), 1)
    .option('--concurrency <n>', 'jobs each agent runs at once', intOption('--concurrency', 1, 10_000), 8)
    .option('--demo', 'also submit a small demo workload and report as it runs', false)
    .action(async (options: DevOptions) => {
      await runDev(options);
    });
}

async function runDev(options: DevOptions): Promise<void> {
  const logger = serveLogger(options.logLevel);
  const admin = devAdminToken(options);
  const serving = await serve({ ...options, adminToken: admin.token }, logger);
  const url = await serving.listen();
  const agents = Array.from(
    { length: options.agents },
    (_, i) =>
      new Agent({
        link: serving.server.localLink(),
        tasks: demoTasks,
        concurrency: options.concurrency,
        name: `local-${i + 1}`,
        logger,
        // What command steps would get as BATON_API_URL: the agents share this host with the server.
        apiUrl: url,
      }),
  );
  for (const agent of agents) await agent.start();
  const adminLine = saveDevAdminToken(url, admin);

  onShutdown(async (signal) => {
    process.stdout.write(`\n${signal}: draining agents and stopping…\n`);
    await Promise.all(agents.map((a) => a.stop(5000)));
    await serving.close();
  });

  process.stdout.write(
    [
      `Baton dev listening on ${url}`,
      `  store:  ${options.store}`,
      `  local:  ${options.agents} in-process agent(s) × ${options.concurrency} slots (tasks: ${demoTasks.map((t) => t.name).join(', ')})`,
      adminLine,
      agentHint(url, options, serving.agentToken),
      `  try:    npx baton submit demo.sleep --payload '{"ms":500}' --wait${url === 'http://127.0.0.1:7070' ? '' : ` --server ${url}`}`,
      '',
    ].join('\n'),
  );
  if (options.demo) {
    if (options.agents === 0) process.stdout.write('demo: no agents (--agents 0), so demo jobs will wait\n');
    await runDemo(url, admin.token, (line) => process.stdout.write(`${line}\n`));
  }
}
