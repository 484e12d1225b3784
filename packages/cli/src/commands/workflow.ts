import type { Command } from 'commander';
import type { BatonClient, WorkflowDetailView, WorkflowRequest } from '@baton/client';
import { CliError } from '../cli-error.js';
import { readFlagFile } from '../flag-files.js';
import { WorkflowDisplay, workflowHeader, workflowText } from '../workflow-view.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

/** How often a live view or `--wait` asks the server again. */
const POLL_MS = 500;

/** A workflow with every one of its steps (the API pages them, 1 000 at a time). */
async function fullWorkflow(client: BatonClient, id: string): Promise<WorkflowDetailView> {
  const first = await api(client.getWorkflow(id, { stepsLimit: 1000 }));
  const steps = [...first.steps];
  let cursor = first.stepsCursor;
  while (cursor !== null) {
    const page = await api(client.getWorkflow(id, { stepsLimit: 1000, stepsCursor: cursor }));
    steps.push(...page.steps);
    cursor = page.stepsCursor;
  }
  return { ...first, steps, stepsCursor: null };
}

/** Follows a workflow until it is no longer running, showing each change; the last view. */
async function follow(client: BatonClient, id: string, display: WorkflowDisplay | null): Promise<WorkflowDetailView> {
  let last = '';
  for (;;) {
    const w = await fullWorkflow(client, id);
    const seen = `${w.state}:${w.steps.map((s) => `${s.state}/${s.attempts}`).join(',')}`;
    if (seen !== last) {
      last = seen;
      display?.update(w);
    }
    if (w.state !== 'running') return w;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Reads a workflow definition file, failing with a usage error that says what is wrong with it. */
export function readWorkflowFile(path: string): WorkflowRequest {
  const text = readFlagFile('workflow file', path).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${path} is not valid JSON: ${(err as Error).message}`, 2);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new CliError(`${path} must hold a JSON object: {"steps": [{"id": …, "task": …}, …]}`, 2);
  }
  return body as WorkflowRequest;
}

interface ShowFlags extends ConnectionOptions {
  once: boolean;
}

export function registerWorkflowCommand(program: Command): void {
  // `baton workflow ID` runs the default subcommand, `show`: the parent has no options of its
  // own, so every flag after a subcommand's name reaches that subcommand.
  const workflow = program
    .command('workflow')
    .description('show a workflow and its steps (live on a terminal until it ends); submit, cancel or retry one');
  withConnection(
    workflow
      .command('show', { isDefault: true })
      .description('show a workflow and its steps, live on a terminal until it ends')
      .argument('<id>', 'workflow id')
      .option('--once', 'print the workflow once, even on a terminal', false),
  ).action(async (id: string, flags: ShowFlags) => {
    const client = clientFor(flags);
    const w = await fullWorkflow(client, id);
    if (flags.json) return printJson(w);
    if (!process.stdout.isTTY || flags.once || w.state !== 'running') {
      process.stdout.write(`${workflowText(w)}\n`);
      return;
    }
    await follow(client, id, new WorkflowDisplay());
  });

  withConnection(
    workflow
      .command('submit')
      .description('submit a workflow from a JSON file (see docs/workflows.md)')
      .argument('<file>', 'the workflow as JSON: {"name"?, "steps": [...], "onFailure"?}')
      .option('--wait', 'follow it until it ends; exit 1 unless it succeeds', false),
  ).action(async (file: string, flags: ConnectionOptions & { wait: boolean }) => {
    const body = readWorkflowFile(file);
    const client = clientFor(flags);
    const submitted = await api(client.submitWorkflow(body));
    if (!flags.wait) {
      if (flags.json) return printJson(submitted);
      const again = submitted.created ? '' : ' (existing workflow for this idempotency key)';
      process.stdout.write(`${submitted.id} ${submitted.state}, ${submitted.counts.steps} steps${again}\n`);
      return;
    }
    if (!flags.json) process.stdout.write(`${submitted.id} submitted\n`);
    const w = await follow(client, submitted.id, flags.json ? null : new WorkflowDisplay());
    if (flags.json) printJson(w);
    else if (!process.stdout.isTTY) process.stdout.write(`${workflowText(w)}\n`);
    if (w.state !== 'succeeded') process.exitCode = 1;
  });

  withConnection(
    workflow
      .command('cancel')
      .description('cancel every unfinished step of a workflow')
      .argument('<id>', 'workflow id'),
  ).action(async (id: string, flags: ConnectionOptions) => {
    const w = await api(clientFor(flags).cancelWorkflow(id));
    if (flags.json) printJson(w);
    else process.stdout.write(`${w.id} ${w.state}\n`);
  });

  withConnection(
    workflow
      .command('retry')
      .description('run an ended workflow again: a step and what needs it, or every step that did not succeed')
      .argument('<id>', 'workflow id')
      .option('--from <step>', 'the step to run again, with every step that needs it'),
  ).action(async (id: string, flags: ConnectionOptions & { from?: string }) => {
    const w = await api(clientFor(flags).retryWorkflow(id, flags.from));
    if (flags.json) printJson(w);
    else process.stdout.write(`${workflowHeader(w, [])}\n`);
  });
}
