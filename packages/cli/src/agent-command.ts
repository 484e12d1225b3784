import { availableParallelism, hostname, totalmem } from 'node:os';
import type { Command } from 'commander';
import { destination, pino } from 'pino';
import type { AnyTaskDefinition } from '@baton/agent';
import { Agent, GpuHealthMonitor, WsLink, createCommandTask, declaredGpus, demoTasks, detectGpus } from '@baton/agent';
import type { GpuDevice } from '@baton/core';
import { BatonError, tagSchema } from '@baton/core';
import { MIN_RUNTIME_MAX_MS, PREEMPT_GRACE_MAX_MS, poolOptionsFromFlags } from './agent-flags.js';
import type { PoolFlags } from './agent-flags.js';
import { loadTaskModule } from './agent-tasks.js';
import { CliError, intOption } from './cli-error.js';
import { commandEnvFromFlags } from './command-env-flags.js';
import { readFlagFile, readSecretFile } from './flag-files.js';
import { onShutdown } from './serve.js';

interface AgentFlags extends PoolFlags {
  server: string;
  token?: string;
  tokenFile?: string;
  ca?: string;
  name: string;
  pool: string;
  queues?: string;
  tag: string[];
  slots?: number;
  cpu?: number;
  memoryMb?: number;
  gpus?: number;
  allowCommands: boolean;
  passEnv: string[];
  commandEnv: string[];
  tasks?: string;
  demo: boolean;
  drainGraceMs: number;
  gpuHealthFile?: string;
  gpuHealthIntervalMs?: number;
  logLevel: string;
}

const collect = (value: string, previous: string[]) => [...previous, ...value.split(',').filter(Boolean)];
const repeat = (value: string, previous: string[]) => [...previous, value];

function numberOption(flag: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min) {
      throw new CliError(`${flag} must be a number ≥ ${min}, got "${value}"`, 2);
    }
    return n;
  };
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run an agent: connect to a Baton server and run the jobs it places here')
    .option(
      '--server <url>',
      'Baton server URL, or several of one fleet comma-separated (or BATON_SERVER)',
      process.env.BATON_SERVER ?? 'http://127.0.0.1:7070',
    )
    .option(
      '--token <token>',
      'the agent token (visible to every user in the process list: prefer --token-file or BATON_AGENT_TOKEN)',
      process.env.BATON_AGENT_TOKEN,
    )
    .option('--token-file <path>', 'read the agent token from this file (mode 600), e.g. a mounted secret')
    .option(
      '--ca <file>',
      'trust these PEM CA certificate(s) for an https:// or wss:// server, instead of the system CAs',
    )
    .option('--name <name>', 'agent name shown in baton agents', hostname())
    .option('--pool <name>', 'pool this agent belongs to', 'default')
    .option('--queues <list>', "queues to take work from, comma-separated (default: the tasks' queues)")
    .option('--tag <tag>', 'a tag jobs can require, e.g. region:us-east (repeatable, or comma-separated)', collect, [])
    .option(
      '--slots <n>',
      'jobs run at once (default: the larger of CPU cores and GPUs)',
      intOption('--slots', 1, 100_000),
    )
    .option('--cpu <n>', 'CPU cores offered to jobs (default: this machine’s)', numberOption('--cpu', 0))
    .option('--memory-mb <n>', 'memory offered to jobs, MiB (default: this machine’s)', intOption('--memory-mb', 0))
    .option('--gpus <n>', 'declare N GPUs instead of detecting them with nvidia-smi', intOption('--gpus', 0, 1024))
    .option('--allow-commands', 'run built-in command tasks (argv, no shell) on this machine', false)
    .option(
      '--pass-env <name>',
      "copy this variable of the agent's environment to every command (repeatable, or comma-separated)",
      collect,
      [],
    )
    .option('--command-env <name=value>', 'set this variable for every command (repeatable)', repeat, [])
    .option('--tasks <file>', 'a JS module exporting defineTask(...) tasks')
    .option('--demo', 'serve the demo tasks (demo.sleep, demo.fail, demo.echo)', false)
    .option(
      '--drain-grace-ms <ms>',
      'on SIGTERM, how long running jobs may finish',
      intOption('--drain-grace-ms', 0),
      30_000,
    )
    .option('--gpu-health-file <path>', 'read GPU health from this JSON file instead of nvidia-smi')
    .option(
      '--gpu-health-interval-ms <ms>',
      'how often GPU health is checked (default 5000)',
      intOption('--gpu-health-interval-ms', 100),
    )
    .option(
      '--priorities <list>',
      'dedicate this agent to these priority classes, comma-separated (high, normal, low; default: all)',
    )
    .option(
      '--preemptible',
      "take work of every class; a waiting higher-class job may preempt this agent's lower-class jobs",
      false,
    )
    .option(
      '--preempt-grace-ms <ms>',
      'with --preemptible: how long a preempted job has after SIGTERM / its abort signal (default 30000)',
      intOption('--preempt-grace-ms', 0, PREEMPT_GRACE_MAX_MS),
    )
    .option(
      '--min-runtime-ms <ms>',
      'with --preemptible: a job that has run less than this here is not preempted (default 60000)',
      intOption('--min-runtime-ms', 0, MIN_RUNTIME_MAX_MS),
    )
    .option('--log-level <level>', 'fatal | error | warn | info | debug', 'info')
    .action(async (flags: AgentFlags, command: Command) => {
      await runAgent(flags, command.getOptionValueSource('token') === 'cli');
    });
}

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

async function runAgent(flags: AgentFlags, tokenOnCommandLine: boolean): Promise<void> {
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
