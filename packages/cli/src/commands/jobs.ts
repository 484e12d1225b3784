import type { Command } from 'commander';
import type { JobState } from '@baton/core';
import { JOB_STATES } from '@baton/core';
import { choiceOption, intOption } from '../cli-error.js';
import { priorityText, progressText, shortTime, table } from '../format.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

interface JobsFlags extends ConnectionOptions {
  state?: JobState;
  queue?: string;
  owner?: string;
  task?: string;
  since?: number;
  until?: number;
  limit?: number;
  cursor?: string;
}

export function registerJobsCommand(program: Command): void {
  withConnection(
    program
      .command('jobs')
      .description('list jobs, newest first')
      .option('--state <state>', JOB_STATES.join(' | '), choiceOption('--state', JOB_STATES))
      .option('--queue <name>', 'only this queue')
      .option('--owner <user>', "only this user's (another user's: admin or viewer)")
      .option('--task <name>', 'only this task')
      .option('--since <ms>', 'created at or after (epoch ms)', intOption('--since', 0))
      .option('--until <ms>', 'created before (epoch ms)', intOption('--until', 0))
      .option('--limit <n>', 'jobs per page (1–500)', intOption('--limit', 1, 500), 20)
      .option('--cursor <cursor>', 'the next page, as printed by the previous one'),
  ).action(async (flags: JobsFlags) => {
    const client = clientFor(flags);
    const page = await api(
      client.listJobs({
        ...(flags.state && { state: flags.state }),
        ...(flags.queue && { queue: flags.queue }),
        ...(flags.owner && { owner: flags.owner }),
        ...(flags.task && { task: flags.task }),
        ...(flags.since !== undefined && { since: flags.since }),
        ...(flags.until !== undefined && { until: flags.until }),
        ...(flags.limit && { limit: flags.limit }),
        ...(flags.cursor && { cursor: flags.cursor }),
      }),
    );
    if (flags.json) return printJson(page);
    if (page.jobs.length === 0 && !page.nextCursor) {
      process.stdout.write('no jobs\n');
      return;
    }
    const rows = page.jobs.map((j) => [
      j.id,
      j.task,
      j.queue,
      j.state,
      priorityText(j),
      `${j.attempts}/${j.maxAttempts}`,
      progressText(j.progress),
      shortTime(j.createdAt),
    ]);
    process.stdout.write(
      `${table(['ID', 'TASK', 'QUEUE', 'STATE', 'PRIORITY', 'ATTEMPTS', 'PROGRESS', 'CREATED'], rows)}\n`,
    );
    if (page.nextCursor) {
      // The next page's command keeps this one's filters.
      const again = [
        ...(flags.state ? ['--state', flags.state] : []),
        ...(flags.queue ? ['--queue', flags.queue] : []),
        ...(flags.owner ? ['--owner', flags.owner] : []),
        ...(flags.task ? ['--task', flags.task] : []),
        ...(flags.since !== undefined ? ['--since', String(flags.since)] : []),
        ...(flags.until !== undefined ? ['--until', String(flags.until)] : []),
        ...(flags.limit ? ['--limit', String(flags.limit)] : []),
      ];
      process.stdout.write(`more: baton jobs ${[...again, '--cursor', page.nextCursor].join(' ')}\n`);
    }
  });
}
