import { Agent, demoTasks } from '@baton/agent';
import { runDemo } from './demo.js';
import { startDemoTrickle } from './demo-trickle.js';
import { devScalingConfig } from './autoscale/config-path.js';
import type { DevAutoscale } from './autoscale/dev-autoscale.js';
import { startDevAutoscale } from './autoscale/dev-autoscale.js';
import { devAdminToken, saveDevAdminToken } from './dev-admin.js';
import type { DevAdminToken } from './dev-admin.js';
import { agentHint, onShutdown, serve, serveLogger } from './serve.js';

import type { DevOptions } from './dev.js';

/** `baton dev`, running: the server, its in-process agents, the demo and autoscaling; flags in dev.ts. */
export async function runDev(options: DevOptions): Promise<void> {
  const logger = serveLogger(options.logLevel);
  const scaling = devScalingConfig(options);
  const agentCount = options.agents ?? (options.autoscale ? 0 : 1);
  const admin = devAdminToken(options);
  const serving = await serve(
    { ...options, adminToken: admin.token, ...(scaling !== null && { scalingConfig: scaling.config }) },
    logger,
  );
  const url = await serving.listen();
  const agents = Array.from(
    { length: agentCount },
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

  const write = (line: string) => void process.stdout.write(`${line}\n`);
  let autoscale: DevAutoscale | null = null;
  let stopTrickle = (): void => {};
  onShutdown(async (signal) => {
    process.stdout.write(`\n${signal}: draining agents and stopping…\n`);
    stopTrickle();
    // The autoscaled agents drain first, while the server is still there to take their results.
    await autoscale?.stop();
    await Promise.all(agents.map((a) => a.stop(5000)));
    await serving.close();
  });

  process.stdout.write(
    [
      `Baton dev listening on ${url}`,
      `  store:  ${options.store}`,
      `  local:  ${agentCount} in-process agent(s) × ${options.concurrency} slots (tasks: ${demoTasks.map((t) => t.name).join(', ')})`,
      adminLine,
      dashboardLine(url, admin),
      agentHint(url, options, serving.agentToken),
      ...(scaling === null
        ? []
        : [
            `  pools:  ${scaling.config.pools.map((p) => `${p.name} (${p.min}–${p.max})`).join(', ')} from ${scaling.path}` +
              (options.autoscale ? '; autoscaled here' : ''),
          ]),
      `  try:    npx baton submit demo.sleep --payload '{"ms":500}' --wait${url === 'http://127.0.0.1:7070' ? '' : ` --server ${url}`}`,
      '',
    ].join('\n'),
  );
  if (scaling !== null && options.autoscale) {
    autoscale = startDevAutoscale({
      config: scaling.config,
      url,
      adminToken: admin.token,
      agentToken: serving.agentToken,
      write,
    });
  }
  if (options.demo) {
    if (agentCount === 0 && !options.autoscale)
      process.stdout.write('demo: no agents (--agents 0), so demo jobs will wait\n');
    await runDemo(url, admin.token, (line) => process.stdout.write(`${line}\n`));
    stopTrickle = startDemoTrickle(url, admin.token, write);
    write(`demo: a light stream of jobs (user demo-live) keeps running so the dashboard stays live: ${url}/`);
  }
}

/**
 * Where the dashboard is. A token generated this run is already on screen, so the link signs in
 * with it (in the URL's fragment, which the browser never sends to a server); a known token is
 * never printed, so the line says where it is kept.
 */
function dashboardLine(url: string, admin: DevAdminToken): string {
  if (admin.generated) return `  web:    ${url}/#token=${admin.token} (the dashboard, signed in as admin)`;
  return `  web:    ${url}/ (the dashboard: sign in with the admin token, or run npx baton dashboard for a signed-in link)`;
}
