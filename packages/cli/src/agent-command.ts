import { hostname } from 'node:os';
import type { Command } from 'commander';
import { MIN_RUNTIME_MAX_MS, PREEMPT_GRACE_MAX_MS } from './agent-flags.js';
import type { PoolFlags } from './agent-flags.js';
import { CliError, intOption } from './cli-error.js';

/** The flags of `baton agent`, as commander parses them. */
export interface AgentFlags extends PoolFlags {
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
      // Loaded when the agent runs, so other commands (and --help) start without the agent.
      const { runAgent } = await import('./agent-run.js');
      await runAgent(flags, command.getOptionValueSource('token') === 'cli');
    });
}
