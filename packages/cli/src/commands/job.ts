import type { Command } from 'commander';
import {
  expectedRuntimeText,
  jsonText,
  listText,
  priorityText,
  progressText,
  resourcesText,
  shortTime,
  table,
} from '../format.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

export function registerJobCommand(program: Command): void {
  withConnection(
    program.command('job').description("show a job's fields and attempt history").argument('<id>', 'job id'),
  ).action(async (id: string, flags: ConnectionOptions) => {
    const job = await api(clientFor(flags).getJob(id));
    if (flags.json) return printJson(job);
    const fields: [string, string][] = [
      ['id', job.id],
      ['task', job.task],
      ['queue', job.queue],
      ['owner', job.owner],
      ['state', job.state],
      // A workflow's step: which workflow, and what it waits for (blocked) or took (inputs).
      ...(job.workflow
        ? ([
            ['workflow', `${job.workflow.id} step ${job.workflow.step}`],
            ['needs', listText(job.workflow.needs)],
            ['inputs', job.inputs === undefined ? '-' : jsonText(job.inputs)],
          ] as [string, string][])
        : []),
      ...(job.pendingReason
        ? [['pending', `${job.pendingReason.code}: ${job.pendingReason.message}`] as [string, string]]
        : []),
      ['priority', priorityText(job)],
      ['resources', resourcesText(job.resources)],
      ['tags', listText(job.constraints.tags)],
      ['agent', job.agentId ?? '-'],
      ['gpus', job.gpus.length > 0 ? job.gpus.join(', ') : '-'],
      ['attempts', `${job.attempts}/${job.maxAttempts}`],
      ['progress', progressText(job.progress)],
      ['expected', expectedRuntimeText(job)],
      ['payload', jsonText(job.payload)],
      ['result', jsonText(job.result)],
      ['error', job.error ? `${job.error.code}: ${job.error.message}` : '-'],
      ['created', shortTime(job.createdAt)],
      ['run at', shortTime(job.runAt)],
      ['started', shortTime(job.startedAt)],
      ['finished', shortTime(job.finishedAt)],
    ];
    const width = Math.max(...fields.map(([k]) => k.length));
    process.stdout.write(fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
    const history = job.history ?? [];
    if (history.length > 0) {
      const rows = history.map((a) => [
        String(a.attempt),
        a.agentId,
        a.outcome ?? 'running',
        shortTime(a.startedAt),
        shortTime(a.finishedAt),
        a.error ? `${a.error.code}: ${a.error.message}` : '',
      ]);
      process.stdout.write(`\n${table(['ATTEMPT', 'AGENT', 'OUTCOME', 'STARTED', 'FINISHED', 'ERROR'], rows)}\n`);
    }
  });
}
