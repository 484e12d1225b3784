import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AssignedJob, JobAssignment } from '@baton/core';
import { decodeFrame, encodeFrame } from '@baton/core';
import { COMMAND_TASK, commandTask } from '../src/command-task.js';
import { INPUTS_FILE_ENV } from '../src/command-inputs.js';
import { JobAbort } from '../src/job-abort.js';
import { runTask } from '../src/run-task.js';
import { defineTask, silentLogger, type AnyTaskDefinition } from '../src/task.js';
import { assignment } from './assignment.js';

const hooks = { logger: silentLogger, progress() {}, output() {} };
const step = { workflow: { id: '01JDB5Q2X8W6K7C3V9M4N0P1R2', step: 'index' }, inputs: { ocr: { text: 'héllo' } } };

describe('a step’s inputs reach its handler', () => {
  const seeing = defineTask('test.see', async (_p: unknown, ctx) => ({
    inputs: ctx.inputs,
    workflow: ctx.workflow ?? null,
  }));

  it('as ctx.inputs and ctx.workflow on a step', async () => {
    const out = await runTask(seeing, assignment('test.see', {}, step), new JobAbort(), hooks);
    expect(out).toEqual({ outcome: 'succeeded', result: { inputs: step.inputs, workflow: step.workflow } });
  });

  it('with ctx.workflow.add refused (NOT_SUPPORTED) when the runner gives no way to reach the server', async () => {
    const adding = defineTask('test.add', async (_p: unknown, ctx) =>
      ctx.workflow!.add([{ id: 'x', task: 'demo.echo' }]),
    );
    const out = await runTask(adding, assignment('test.add', {}, step), new JobAbort(), hooks);
    expect(out).toMatchObject({ outcome: 'failed', error: { code: 'NOT_SUPPORTED' } });
  });

  it('as an empty object and no workflow on a plain job', async () => {
    const out = await runTask(seeing, assignment('test.see', {}), new JobAbort(), hooks);
    expect(out).toEqual({ outcome: 'succeeded', result: { inputs: {}, workflow: null } });
  });
});

describe('command steps get their inputs in a file', () => {
  // Prints the variables a step gets and the inputs file's text, as JSON.
  const script = `const fs=require('fs');const f=process.env.${INPUTS_FILE_ENV};
process.stdout.write(JSON.stringify({file:f||null,inputs:f?fs.readFileSync(f,'utf8'):null,
mode:f?(fs.statSync(f).mode&0o777):null,id:process.env.BATON_WORKFLOW_ID||null,step:process.env.BATON_WORKFLOW_STEP||null,
job:process.env.BATON_JOB_ID||null,lease:process.env.BATON_LEASE_TOKEN||null,url:process.env.BATON_API_URL||null}))`;
  const run = (job: Partial<AssignedJob>, apiUrl?: string) =>
    runTask(
      commandTask as AnyTaskDefinition,
      assignment(COMMAND_TASK, { argv: [process.execPath, '-e', script] }, job),
      new JobAbort(),
      {
        ...hooks,
        ...(apiUrl !== undefined && {
          growth: { addSteps: () => Promise.reject(new Error('not here')), apiUrl: () => apiUrl },
        }),
      },
    );
  const seen = (out: Awaited<ReturnType<typeof run>>) => {
    if (out.outcome !== 'succeeded') throw new Error(JSON.stringify(out));
    return JSON.parse((out.result as { stdoutTail: string }).stdoutTail);
  };

  it('names BATON_INPUTS_FILE (private, removed afterwards), BATON_WORKFLOW_ID and BATON_WORKFLOW_STEP', async () => {
    const got = seen(await run(step));
    expect(JSON.parse(got.inputs)).toEqual(step.inputs);
    expect(got.mode).toBe(0o600);
    expect([got.id, got.step]).toEqual([step.workflow.id, 'index']);
    expect(existsSync(got.file)).toBe(false);
  });

  it('gives a step its credential to grow its workflow: BATON_JOB_ID, BATON_LEASE_TOKEN, BATON_API_URL when known', async () => {
    expect(seen(await run(step, 'http://127.0.0.1:7070'))).toMatchObject({
      job: 'job-1',
      lease: 'lease-1',
      url: 'http://127.0.0.1:7070',
    });
    // An agent that knows no server URL (an in-process one given none) leaves it out.
    expect(seen(await run(step))).toMatchObject({ job: 'job-1', lease: 'lease-1', url: null });
  });

  it('gives a plain command none of them', async () => {
    expect(seen(await run({}, 'http://127.0.0.1:7070'))).toEqual({
      file: null,
      inputs: null,
      mode: null,
      id: null,
      step: null,
      job: null,
      lease: null,
      url: null,
    });
  });
});

describe('the agent wire', () => {
  it('carries workflow and inputs for a step only: a plain job’s frame is as before', () => {
    const plain = assignment('demo.echo', { a: 1 });
    const [decoded] = decodeFrame(encodeFrame([{ t: 'deliver', assignments: [plain] }])) as {
      assignments: JobAssignment[];
    }[];
    expect(Object.keys(decoded!.assignments[0]!.job)).not.toContain('workflow');
    expect(Object.keys(decoded!.assignments[0]!.job)).not.toContain('inputs');
    const withStep = assignment('demo.echo', {}, step);
    const [again] = decodeFrame(encodeFrame([{ t: 'deliver', assignments: [withStep] }])) as {
      assignments: JobAssignment[];
    }[];
    expect(again!.assignments[0]!.job).toMatchObject(step);
  });
});
