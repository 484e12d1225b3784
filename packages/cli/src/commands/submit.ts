import type { Command } from 'commander';
import { PRIORITY_CLASSES } from '@baton/core';
import type { SubmitOptions } from '@baton/client';
import { CliError, choiceOption, intOption } from '../cli-error.js';
import { jsonText } from '../format.js';
import { ProgressBar } from '../progress-bar.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

/** Commander's parsed flags: the SDK's submit options, plus the payload as text and --wait. */
interface SubmitFlags extends ConnectionOptions, Omit<SubmitOptions, 'runAt' | 'resources'> {
  payload?: string;
  wait: boolean;
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
