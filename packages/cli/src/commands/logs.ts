import type { Command } from 'commander';
import { CliError, choiceOption } from '../cli-error.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

const STREAMS = ['stdout', 'stderr'] as const;
/** A job id: a ULID in Crockford base32. */
const JOB_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

interface LogsFlags extends ConnectionOptions {
  follow: boolean;
  stream?: (typeof STREAMS)[number];
}

export function registerLogsCommand(program: Command): void {
  withConnection(
    program
      .command('logs')
      .description("print a job's output (stdout and stderr, in the order written)")
      .argument('<id>', 'job id')
      .option('-f, --follow', 'keep printing new output until the job ends', false)
      .option('--stream <stream>', 'only stdout | stderr', choiceOption('--stream', STREAMS)),
  ).action(async (id: string, flags: LogsFlags) => {
    if (!JOB_ID.test(id))
      throw new CliError(`"${id}" is not a job id (26 characters, like 01JDB5Q2X8W6K7C3V9M4N0P1R2)`, 2);
    const client = clientFor(flags);
    const options = flags.stream ? { stream: flags.stream } : {};
    if (!flags.follow) {
      // The API answers a page at a time (see docs/api.md): read them all.
      let page = await api(client.logs(id, options));
      const chunks = [...page.chunks];
      if (!flags.json) process.stdout.write(page.chunks.map((c) => c.data).join(''));
      while (page.more && page.lastSeq !== null) {
        page = await api(client.logs(id, { ...options, after: page.lastSeq }));
        if (flags.json) chunks.push(...page.chunks);
        else process.stdout.write(page.chunks.map((c) => c.data).join(''));
      }
      if (flags.json) printJson({ chunks, lastSeq: page.lastSeq, more: false });
      return;
    }
    await api(
      client.followLogs(id, {
        ...options,
        // One JSON chunk per line with --json, as the API streams them.
        onChunk: (c) => process.stdout.write(flags.json ? `${JSON.stringify(c)}\n` : c.data),
      }),
    );
  });
}
