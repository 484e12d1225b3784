import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowDetailView, WorkflowStepView } from '@baton/client';
import type { Harness } from '../../server/test/harness.js';
import { gateTask, startHarness } from '../../server/test/harness.js';
import { TEST_ADMIN_TOKEN } from '../../../test/baton-process.js';
import { runBaton } from './baton-run.js';
import { WorkflowDisplay, stepsTable } from '../src/workflow-view.js';

// Each test runs several `baton` processes; on a loaded machine one start takes seconds.
describe('baton workflow commands against a real server', { timeout: 90_000 }, () => {
  let h: Harness;
  let dir: string;
  const gate = gateTask('test.cli-gate');
  const baton = (...args: string[]) => runBaton([...args, '--server', h.url, '--token', TEST_ADMIN_TOKEN]);
  const file = (name: string, body: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
    return path;
  };
  const workflowCount = async () => (await h.get('/api/workflows?limit=500')).body.workflows.length as number;
  const pipeline = {
    name: 'cli-pipeline',
    steps: [
      { id: 'extract', task: 'demo.extract', payload: { pages: 2, ms: 0 } },
      { id: 'ocr-1', task: 'demo.ocr', payload: { page: 1, ms: 0 }, needs: ['extract'] },
      { id: 'ocr-2', task: 'demo.ocr', payload: { page: 2, ms: 0 }, needs: ['extract'] },
      { id: 'index', task: 'demo.index', payload: { ms: 0 }, needs: ['ocr-1', 'ocr-2'] },
    ],
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-wf-cli-'));
    h = await startHarness({ agents: 0 });
    await h.addAgent({ tasks: [gate.task] });
  });
  afterAll(async () => {
    gate.release();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a missing file, bad JSON or a non-object with exit 2 and sends nothing', async () => {
    const before = await workflowCount();
    const cases: [string, RegExp][] = [
      [join(dir, 'nope.json'), /^baton: workflow file: no such file .*nope\.json\n$/],
      [file('bad.json', '{"steps": ['), /^baton: .*bad\.json is not valid JSON: /],
      [file('list.json', '[1, 2]'), /^baton: .*list\.json must hold a JSON object: \{"steps"/],
      [dir, /^baton: workflow file: .* is a directory, not a file\n$/],
    ];
    for (const [path, message] of cases) {
      const r = await baton('workflow', 'submit', path);
      expect(r.code, path).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(await workflowCount()).toBe(before);
  });

  it("reports the server's refusal in one line naming the step, exit 1", async () => {
    const cyclic = file('cycle.json', {
      steps: [
        { id: 'a', task: 'demo.echo', needs: ['b'] },
        { id: 'b', task: 'demo.echo', needs: ['a'] },
      ],
    });
    const r = await baton('workflow', 'submit', cyclic);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^baton: the steps form a cycle: .*\(WORKFLOW_CYCLE\)\n$/);
    const unknown = await baton('workflow', 'submit', file('unknown.json', { steps: [{ id: 'x', task: 'no.such' }] }));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^baton: steps\[0\] \("x"\): unknown task "no.such".*\(UNKNOWN_TASK\)\n$/);
    const missing = await baton('workflow', '01JDB5Q2X8W6K7C3V9M4N0P1R2');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found \(WORKFLOW_NOT_FOUND\)/);
    expect((await baton('workflow', 'nope')).stderr).toMatch(/INVALID_WORKFLOW_ID/);
  });

  it('submit --wait follows the workflow to its end and prints its steps, exit 0; show lists them as a tree', async () => {
    const r = await baton('workflow', 'submit', file('ok.json', pipeline), '--wait');
    expect(r.code, r.stderr).toBe(0);
    const id = /^([0-9A-Z]{26}) submitted/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    expect(r.stdout).toMatch(/workflow \S+ cli-pipeline: succeeded \(fail-fast\), 4\/4 steps finished — 4 succeeded/);
    const shown = await baton('workflow', id!);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^STEP\s+STATE\s+TASK\s+ATTEMPTS\s+NEEDS\s+JOB/m);
    // Indented by depth: extract, then its OCR steps, then index.
    expect(shown.stdout).toMatch(/^extract\s+succeeded\s+demo\.extract\s+1\s+-/m);
    expect(shown.stdout).toMatch(/^ {2}ocr-1\s+succeeded\s+demo\.ocr\s+1\s+extract/m);
    expect(shown.stdout).toMatch(/^ {4}index\s+succeeded\s+demo\.index\s+1\s+ocr-1,ocr-2/m);
    const json = JSON.parse((await baton('workflow', id!, '--json')).stdout) as WorkflowDetailView;
    expect(json.steps).toHaveLength(4);
    // A step's job shows its workflow, needs and inputs.
    const job = await baton('job', json.steps[3]!.jobId);
    expect(job.stdout).toMatch(new RegExp(`workflow\\s+${id} step index`));
    expect(job.stdout).toMatch(/needs\s+ocr-1,ocr-2/);
    expect(job.stdout).toMatch(/inputs\s+\{"ocr-1":\{"page":1/);
    // Retry from a step, then the list shows it.
    const retried = await baton('workflow', 'retry', id!, '--from', 'index');
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toMatch(/: running \(fail-fast\)/);
    const list = await baton('workflows');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+STATE\s+FINISHED/);
    expect(list.stdout).toContain(id);
  });

  it('submit --wait of a workflow that fails exits 1; --json prints the API answer', async () => {
    const body = {
      steps: [
        { id: 'bad', task: 'demo.fail', maxAttempts: 1 },
        { id: 'after', task: 'demo.echo', needs: ['bad'] },
      ],
    };
    const r = await baton('workflow', 'submit', file('fails.json', body), '--wait');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^bad\s+failed\s+demo\.fail\s+1\s+-\s+\S+\s+TASK_FAILED/m);
    expect(r.stdout).toMatch(/^ {2}after\s+skipped\s+demo\.echo\s+0\s+bad\s+\S+\s+NEED_UNSUCCESSFUL/m);
    const json = await baton('workflow', 'submit', file('fails2.json', body), '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ state: 'running', created: true, counts: { steps: 2 } });
    const blocked = await baton('jobs', '--state', 'skipped', '--json');
    expect(blocked.code).toBe(0);
  });

  it('cancel cancels a running workflow; a second cancel and a retry while running say why, exit 1', async () => {
    const id = JSON.parse(
      (
        await baton(
          'workflow',
          'submit',
          file('held.json', { steps: [{ id: 'hold', task: 'test.cli-gate' }] }),
          '--json',
        )
      ).stdout,
    ).id as string;
    const retry = await baton('workflow', 'retry', id);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toMatch(/\(WORKFLOW_RUNNING\)\n$/);
    const r = await baton('workflow', 'cancel', id);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${id} cancelled`);
    const again = await baton('workflow', 'cancel', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\(WORKFLOW_FINISHED\)\n$/);
    expect((await baton('workflows', '--state', 'cancelled')).stdout).toContain(id);
  });

  it('refuses bad flags with exit 2', async () => {
    for (const args of [['workflows', '--state', 'done'], ['workflows', '--limit', '0'], ['workflow']]) {
      const r = await baton(...args);
      expect(r.code, args.join(' ')).toBe(2);
    }
  });
});

describe('workflow views', () => {
  const step = (id: string, state: WorkflowStepView['state'], needs: string[] = []): WorkflowStepView => ({
    step: id,
    jobId: `job-${id}`,
    task: 't',
    queue: 'default',
    needs,
    state,
    attempts: 1,
    error: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
  });
  const view = (steps: WorkflowStepView[], state: WorkflowDetailView['state'] = 'running'): WorkflowDetailView => ({
    id: 'W',
    name: 'n',
    owner: 'o',
    state,
    onFailure: 'fail-fast',
    maxSteps: 10,
    idempotencyKey: null,
    counts: { steps: steps.length, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 },
    createdAt: '2026-01-01T00:00:00.000Z',
    finishedAt: null,
    updatedAt: '2026-01-01T00:00:00.000Z',
    steps,
    stepsCursor: null,
  });

  it('cuts a long list to the rows given, unfinished steps first', () => {
    const steps = [step('a', 'succeeded'), step('b', 'running', ['a']), step('c', 'blocked', ['b'])];
    const text = stepsTable(steps, 2);
    expect(text).toMatch(/^ {2}b\s+running/m);
    expect(text).toMatch(/^ {4}c\s+blocked/m);
    expect(text).not.toMatch(/^a\s/m);
    expect(text).toMatch(/… 1 more steps/);
  });

  it('redraws in place on a terminal, one line per change elsewhere', () => {
    const writes: string[] = [];
    const out = (isTTY: boolean) =>
      ({ isTTY, rows: 30, write: (s: string) => writes.push(s) }) as unknown as NodeJS.WriteStream;
    const tty = new WorkflowDisplay(out(true));
    tty.update(view([step('a', 'running')]));
    tty.update(view([step('a', 'succeeded')], 'succeeded'));
    expect(writes[0]).not.toContain('\x1b[');
    // The header and the table (header row and one step): three lines to go back over.
    expect(writes[1]!.startsWith('\x1b[3A\r\x1b[J')).toBe(true);
    writes.length = 0;
    const plain = new WorkflowDisplay(out(false));
    plain.update(view([step('a', 'blocked')]));
    expect(writes).toEqual(['workflow W n: running (fail-fast), 0/1 steps finished — 1 blocked\n']);
  });
});
