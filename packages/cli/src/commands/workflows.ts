import type { Command } from 'commander';
import type { WorkflowState } from '@baton/client';
import { WORKFLOW_STATES } from '@baton/core';
import { choiceOption, intOption } from '../cli-error.js';
import { shortTime, table } from '../format.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

interface WorkflowsFlags extends ConnectionOptions {
  state?: WorkflowState;
  owner?: string;
  limit?: number;
  cursor?: string;
}

export function registerWorkflowsCommand(program: Command): void {
  withConnection(
    program
      .command('workflows')
      .description('list workflows, newest first')
      .option('--state <state>', WORKFLOW_STATES.join(' | '), choiceOption('--state', WORKFLOW_STATES))
      .option('--owner <user>', "only this user's (admins; a user sees only their own)")
      .option('--limit <n>', 'workflows per page (1–500)', intOption('--limit', 1, 500), 20)
      .option('--cursor <cursor>', 'the next page, as printed by the previous one'),
  ).action(async (flags: WorkflowsFlags) => {
    const page = await api(
      clientFor(flags).listWorkflows({
        ...(flags.state && { state: flags.state }),
        ...(flags.owner && { owner: flags.owner }),
        ...(flags.limit && { limit: flags.limit }),
        ...(flags.cursor && { cursor: flags.cursor }),
      }),
    );
    if (flags.json) return printJson(page);
    if (page.workflows.length === 0) {
      process.stdout.write('no workflows\n');
      return;
    }
    const rows = page.workflows.map((w) => {
      const { steps, succeeded, failed, cancelled, skipped } = w.counts;
      return [
        w.id,
        w.name ?? '-',
        w.state,
        `${succeeded + failed + cancelled + skipped}/${steps}`,
        [failed && `${failed} failed`, cancelled && `${cancelled} cancelled`, skipped && `${skipped} skipped`]
          .filter(Boolean)
          .join(', ') || '-',
        w.owner,
        shortTime(w.createdAt),
      ];
    });
    process.stdout.write(`${table(['ID', 'NAME', 'STATE', 'FINISHED', 'UNSUCCESSFUL', 'OWNER', 'CREATED'], rows)}\n`);
    if (page.nextCursor) {
      const again = [
        ...(flags.state ? ['--state', flags.state] : []),
        ...(flags.owner ? ['--owner', flags.owner] : []),
        ...(flags.limit ? ['--limit', String(flags.limit)] : []),
      ];
      process.stdout.write(`more: baton workflows ${[...again, '--cursor', page.nextCursor].join(' ')}\n`);
    }
  });
}
