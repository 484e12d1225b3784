import type { Command } from 'commander';
import type { BatonConfig } from '@baton/core';
import { BatonError } from '@baton/core';
import { CliError, choiceOption } from '../cli-error.js';
import { runsSomething } from '../deploy/agent-command.js';
import { defaultDeployConfig } from '../deploy/default-config.js';
import { DEFAULT_PROMETHEUS_URL } from '../deploy/names.js';
import { DEPLOY_TARGETS, renderDeployment } from '../deploy/render.js';
import type { DeployTarget } from '../deploy/render.js';
import { writeRendered } from '../deploy/write-output.js';

interface RenderFlags {
  target: DeployTarget;
  config?: string;
  out: string;
  prometheus: string;
}

export function registerDeployCommand(program: Command): void {
  const deploy = program.command('deploy').description('deployment files for Kubernetes, Helm and Docker Compose');
  deploy
    .command('render')
    .description('write manifests, a Helm chart or a docker-compose.yml for the pools of a baton.yaml')
    .requiredOption(
      '--target <target>',
      `what to render: ${DEPLOY_TARGETS.join(', ')}`,
      choiceOption('--target', DEPLOY_TARGETS),
    )
    .option('--config <file>', 'the baton.yaml to render (default: one pool "default" of 1 to 10 agents, 8 slots each)')
    .requiredOption('--out <dir>', 'directory to write into (created; files render wrote before are replaced)')
    .option('--prometheus <url>', 'the Prometheus that KEDA ScaledObjects query', DEFAULT_PROMETHEUS_URL)
    .action(async (flags: RenderFlags) => {
      const config = flags.config === undefined ? defaultDeployConfig() : await configOf(flags.config);
      for (const pool of config.pools) {
        if (!runsSomething(pool))
          process.stderr.write(
            `baton: warning: pool ${pool.name}: agentArgs has none of --tasks, --allow-commands, --demo; its agents will exit at start\n`,
          );
      }
      const files = renderDeployment(flags.target, config, { prometheusUrl: flags.prometheus });
      const result = writeRendered(flags.out, files);
      for (const path of result.removed) process.stdout.write(`removed ${path} (no longer rendered)\n`);
      process.stdout.write(`wrote ${result.written.length} file(s) to ${flags.out}: ${result.written.join(', ')}\n`);
    });
}

/** The config file, or a usage error naming its file, line and field. */
async function configOf(path: string): Promise<BatonConfig> {
  // The server's config reader loads with the server, so only a deploy that reads a file pays for it.
  const { loadConfigFile } = await import('@baton/server');
  try {
    return loadConfigFile(path);
  } catch (err) {
    if (err instanceof BatonError) throw new CliError(err.message, 2);
    throw err;
  }
}
