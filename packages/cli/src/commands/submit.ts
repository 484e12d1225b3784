import type { Command } from 'commander';
import { PRIORITY_CLASSES, tagSchema } from '@baton/core';
import type { SubmitOptions } from '@baton/client';
import { CliError, choiceOption, intOption } from '../cli-error.js';
import { jsonText } from '../format.js';
import { ProgressBar } from '../progress-bar.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

/** Commander's parsed flags: the SDK's submit options, plus the payload as text and --wait. */
interface SubmitFlags extends ConnectionOptions, Omit<SubmitOptions, 'runAt' | 'resources' | 'constraints'> {
  payload?: string;
  wait: boolean;
  slots?: number;
  cpu?: number;
  memoryMb?: number;
  gpus?: number;
  tag?: string[];
}

/** Parses a number option that may be fractional, or fails with a message naming the flag. */
function numberOption(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$|^\.\d+$/.test(value.trim()) || n < min || n > max) {
      throw new CliError(`${flag} must be a number from ${min} to ${max}, got "${value}"`, 2);
    }
    return n;
  };
}

/** Collects a repeatable `--tag`, checking each as the API would. */
function collectTag(value: string, previous: string[] = []): string[] {
  const parsed = tagSchema.safeParse(value);
  if (!parsed.success) {
    throw new CliError(`--tag "${value}": ${parsed.error.issues[0]?.message ?? 'not a valid tag'}`, 2);
  }
  return [...previous, value];
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`--payload is not valid JSON: ${(err as Error).message}`, 2);
  }
}

export function registerSubmitCommand(program: Command): void {
  withConnection(
    program
      .command('submit')
      .description('submit a job')
      .argument('<task>', 'task name, e.g. demo.sleep')
      .option('--queue <name>', "queue (default: the task's)")
      .option('--payload <json>', 'payload as JSON', '{}')
      .option('--priority <class>', 'high | normal | low', choiceOption('--priority', PRIORITY_CLASSES))
      .option(
        '--priority-level <n>',
        'order inside the class, higher first',
        intOption('--priority-level', -1000, 1000),
      )
      .option('--max-attempts <n>', 'attempts before the job fails', intOption('--max-attempts', 1, 100))
      .option('--backoff-ms <ms>', 'base of the retry backoff', intOption('--backoff-ms', 0))
      .option('--timeout-ms <ms>', 'fail an attempt running longer', intOption('--timeout-ms', 1))
      .option('--delay-ms <ms>', 'run no earlier than this from now', intOption('--delay-ms', 0))
      .option('--idempotency-key <key>', 'the same key returns the same job')
      .option('--slots <n>', 'agent slots the job occupies (default 1)', intOption('--slots', 1, 1024))
      .option('--cpu <n>', 'CPU cores to reserve, fractions allowed (default 0: none)', numberOption('--cpu', 0, 4096))
      .option(
        '--memory-mb <n>',
        'memory to reserve, MiB (default 0: none)',
        intOption('--memory-mb', 0, 64 * 1024 * 1024),
      )
      .option('--gpus <n>', 'whole GPUs to reserve (default 0)', intOption('--gpus', 0, 1024))
      .option('--tag <tag>', 'run only on agents carrying this tag (repeatable; all must match)', collectTag)
      .option('--wait', 'wait for the job to finish, showing its progress; exit 1 unless it succeeds', false),
  ).action(async (task: string, flags: SubmitFlags) => {
    const payload = parsePayload(flags.payload ?? '{}');
    const client = clientFor(flags);
    const options: SubmitOptions = {
      ...(flags.queue !== undefined && { queue: flags.queue }),
      ...(flags.priority !== undefined && { priority: flags.priority }),
      ...(flags.priorityLevel !== undefined && { priorityLevel: flags.priorityLevel }),
      ...(flags.maxAttempts !== undefined && { maxAttempts: flags.maxAttempts }),
      ...(flags.backoffMs !== undefined && { backoffMs: flags.backoffMs }),
      ...(flags.timeoutMs !== undefined && { timeoutMs: flags.timeoutMs }),
      ...(flags.delayMs !== undefined && { delayMs: flags.delayMs }),
      ...(flags.idempotencyKey !== undefined && { idempotencyKey: flags.idempotencyKey }),
    };
    const resources: NonNullable<SubmitOptions['resources']> = {
      ...(flags.slots !== undefined && { slots: flags.slots }),
      ...(flags.cpu !== undefined && { cpu: flags.cpu }),
      ...(flags.memoryMb !== undefined && { memoryMb: flags.memoryMb }),
      ...(flags.gpus !== undefined && { gpus: flags.gpus }),
    };
    if (Object.keys(resources).length > 0) options.resources = resources;
    if (flags.tag) options.constraints = { tags: flags.tag };
    const submitted = await api(client.submit(task, payload, options));
    if (!flags.wait) {
      if (flags.json) printJson(submitted);
      else
        process.stdout.write(
          `${submitted.id} ${submitted.state}${submitted.created ? '' : ' (existing job for this idempotency key)'}\n`,
        );
      return;
    }
    if (!flags.json) process.stdout.write(`${submitted.id} submitted\n`);
    const bar = flags.json ? null : new ProgressBar();
    const job = await api(client.waitForJob(submitted.id, { onUpdate: (j) => bar?.update(j) }));
    bar?.done();
    if (flags.json) printJson(job);
    else if (job.state === 'succeeded') process.stdout.write(`succeeded: ${jsonText(job.result)}\n`);
    else process.stdout.write(`${job.state}${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}\n`);
    if (job.state !== 'succeeded') process.exitCode = 1;
  });
}
