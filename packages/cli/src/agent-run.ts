import { availableParallelism, totalmem } from 'node:os';
import { destination, pino } from 'pino';
import type { AnyTaskDefinition } from '@baton/agent';
import { Agent, GpuHealthMonitor, WsLink, createCommandTask, declaredGpus, demoTasks, detectGpus } from '@baton/agent';
import type { GpuDevice } from '@baton/core';
import { BatonError, tagSchema } from '@baton/core';
import { poolOptionsFromFlags } from './agent-flags.js';
import { loadTaskModule } from './agent-tasks.js';
import { CliError } from './cli-error.js';
import { commandEnvFromFlags } from './command-env-flags.js';
import { readFlagFile, readSecretFile } from './flag-files.js';
import { onShutdown } from './serve.js';
import type { AgentFlags } from './agent-command.js';

/**
 * `baton agent`, running: reads the token and tasks, connects to the servers and serves until
 * stopped. The command's flags are declared in agent-command.ts, which loads this module only
 * when an agent runs.
 */
const warn = (line: string): void => void process.stderr.write(`baton: warning: ${line}\n`);

/** The agent token from --token-file, --token or BATON_AGENT_TOKEN (the file wins over the variable). */
function agentToken(flags: AgentFlags, tokenOnCommandLine: boolean): string {
  if (flags.tokenFile !== undefined) {
    if (tokenOnCommandLine) throw new CliError('give --token or --token-file, not both', 2);
    return readSecretFile('--token-file', flags.tokenFile, warn);
  }
  if (!flags.token) {
    throw new CliError(
      '--token-file or --token is required (or set BATON_AGENT_TOKEN); baton dev and baton server print it',
      2,
    );
  }
  return flags.token;
}

export async function runAgent(flags: AgentFlags, tokenOnCommandLine: boolean): Promise<void> {
  const token = agentToken(flags, tokenOnCommandLine);
  // Nothing this process starts (a --tasks module's children) inherits the token.
  delete process.env.BATON_AGENT_TOKEN;
  const ca = flags.ca === undefined ? undefined : readFlagFile('--ca', flags.ca);
  if (!flags.allowCommands && (flags.passEnv.length > 0 || flags.commandEnv.length > 0)) {
    throw new CliError('--pass-env and --command-env are for command tasks: add --allow-commands', 2);
  }
  const pool = poolOptionsFromFlags(flags);
  const commandEnv = commandEnvFromFlags(flags.passEnv, flags.commandEnv, process.env, warn);
  for (const tag of flags.tag) {
    const parsed = tagSchema.safeParse(tag);
    if (!parsed.success) throw new CliError(`--tag "${tag}": ${parsed.error.issues[0]?.message ?? 'invalid'}`, 2);
  }
  const logger = pino({ level: flags.logLevel }, destination(2));
  const tasks: AnyTaskDefinition[] = [];
  if (flags.tasks) tasks.push(...(await loadTaskModule(flags.tasks)));
  if (flags.demo) tasks.push(...demoTasks);
  if (flags.allowCommands) tasks.push(createCommandTask({ env: commandEnv }));
  if (tasks.length === 0) throw new CliError('nothing to run: give --tasks FILE, --allow-commands or --demo', 2);

  const gpus = await gpusOf(flags);
  const slots = flags.slots ?? Math.max(availableParallelism(), gpus.length);
  let link: WsLink;
  try {
    link = new WsLink({
      serverUrl: flags.server.split(',').filter(Boolean),
      token,
      logger,
      ...(ca !== undefined && { ca }),
      onRefused: (err) => {
        process.stderr.write(`baton: ${err.message}; the agent stops\n`);
        process.exit(1);
      },
    });
  } catch (err) {
    throw new CliError(`--server: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
  const agent = new Agent({
    link,
    tasks,
    concurrency: slots,
    name: flags.name,
    pool: flags.pool,
    tags: flags.tag,
    cpu: flags.cpu ?? availableParallelism(),
    memoryMb: flags.memoryMb ?? Math.floor(totalmem() / (1024 * 1024)),
    gpus,
    logger,
    ...pool,
    ...(flags.queues !== undefined && { queues: flags.queues.split(',').filter(Boolean) }),
  });

  await connect(agent, link, flags.server);
  const monitor =
    gpus.length > 0 && (flags.gpuHealthFile !== undefined || flags.gpus === undefined)
      ? new GpuHealthMonitor({
          gpus,
          onChange: (changes) => agent.reportGpuHealth(changes),
          logger,
          ...(flags.gpuHealthFile !== undefined && { healthFile: flags.gpuHealthFile }),
          ...(flags.gpuHealthIntervalMs !== undefined && { intervalMs: flags.gpuHealthIntervalMs }),
        })
      : null;
  // Read GPU health once now, so a GPU that is already bad never gets work.
  await monitor?.check();
  monitor?.start();

  // Installed before the line that says the agent is up, so a SIGTERM right after it drains.
  onShutdown(async (signal) => {
    monitor?.stop();
    if (agent.load === 0 && link.state !== 'open') {
      // Nothing to drain, and no server to tell: its drain and unregister could only time out.
      process.stdout.write(`${signal}: no running jobs and no connection to the server; leaving now\n`);
      link.close();
    } else {
      process.stdout.write(`${signal}: draining ${agent.load} running job(s), up to ${flags.drainGraceMs} ms…\n`);
    }
    await agent.stop(flags.drainGraceMs);
    process.stdout.write('agent stopped\n');
  });
  process.stdout.write(
    `agent ${flags.name} connected to ${link.server} as ${agent.id ?? '?'}: pool ${flags.pool}, ${slots} slots, ` +
      `GPUs [${gpus.map((g) => g.index).join(',')}], tasks ${tasks.map((t) => t.name).join(', ')}` +
      `${pool.priorities ? `, only ${pool.priorities.join(',')} priority` : ''}${pool.preemptible ? ', preemptible' : ''}\n`,
  );
}

async function gpusOf(flags: AgentFlags): Promise<GpuDevice[]> {
  if (flags.gpus !== undefined) return declaredGpus(flags.gpus);
  try {
    return (await detectGpus()) ?? [];
  } catch (err) {
    throw new CliError(`GPU detection failed: ${err instanceof Error ? err.message : String(err)} (or pass --gpus N)`);
  }
}

/** Registers, waiting for a server that is not up yet; a refusal (bad token) is final. */
async function connect(agent: Agent, link: WsLink, server: string): Promise<void> {
  let waited = false;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    try {
      await agent.start();
      return;
    } catch (err) {
      if (err instanceof BatonError && err.code === 'UNREACHABLE') {
        if (!waited) process.stderr.write(`baton: waiting for the server at ${server}…\n`);
        waited = true;
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      // A refused registration leaves its connection open: closed, so that the process exits.
      link.close();
      if (err instanceof BatonError && REGISTRATION_REFUSALS.has(err.code)) {
        throw new CliError(`the server refused this agent's registration (${err.code}): ${err.message}`);
      }
      throw new CliError(err instanceof Error ? err.message : String(err));
    }
  }
}

/** Refusals of what the agent declared (too many tasks, queues or routes): fixed by its flags. */
const REGISTRATION_REFUSALS = new Set(['INVALID_REGISTRATION', 'INVALID_AGENT_MESSAGE']);
