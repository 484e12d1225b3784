import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, defineTask } from '@baton/agent';
import type { Harness } from '../../server/test/harness.js';
import { startHarness } from '../../server/test/harness.js';
import { TEST_ADMIN_TOKEN } from '../../../test/baton-process.js';

const BIN = fileURLToPath(new URL('../bin/baton.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Gates a test opens and releases by key, so a job can be held mid-run. */
const gates = new Map<string, () => void>();
const gatePromises = new Map<string, Promise<void>>();
function openGate(key: string): () => void {
  gatePromises.set(key, new Promise<void>((r) => gates.set(key, r)));
  return () => gates.get(key)?.();
}

/** Writes a line, waits at its gate (if one is open), then writes the rest. */
const chatty = defineTask('test.chatty', async (payload: { key?: string }, ctx) => {
  ctx.output('stdout', 'one\n');
  await gatePromises.get(payload.key ?? '');
  ctx.output('stdout', 'two\n');
  ctx.output('stderr', 'oops\n');
  ctx.output('stdout', 'three ✓\n');
  return { done: true };
});

const gpuTask = defineTask('test.gpu', async (payload: { key?: string }) => {
  await gatePromises.get(payload.key ?? '');
  return { ok: true };
});

describe('baton submit resources, job, agents, capacity, logs', () => {
  let h: Harness;
  let gpuAgent: Agent;
  const baton = (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args, '--server', h.url, '--token', TEST_ADMIN_TOKEN],
        { timeout: 20_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const submit = async (...args: string[]): Promise<string> => {
    const r = await baton('submit', ...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout).id as string;
  };
  const jobCount = async () => (await h.get('/api/jobs?limit=500')).body.jobs.length as number;

  beforeAll(async () => {
    // An idle in-process agent sends no heartbeats, so the server would declare it dead after
    // agentTimeoutMs (the lease, 10 s): keep the fleet for the whole file.
    h = await startHarness({ agents: 0, agentTimeoutMs: 600_000 });
    await h.addAgent({ concurrency: 3, tasks: [chatty] });
    gpuAgent = new Agent({
      link: h.server.localLink(),
      tasks: [gpuTask],
      concurrency: 2,
      name: 'gpu-box',
      pool: 'gpu',
      tags: ['region:test', 'nvlink'],
      gpus: [
        { index: 0, uuid: 'GPU-aaaa', name: 'Test GPU', memoryMb: 16_000, healthy: true },
        { index: 1, uuid: 'GPU-bbbb', name: 'Test GPU', memoryMb: 16_000, healthy: false },
      ],
    });
    await gpuAgent.start();
  });
  afterAll(async () => {
    for (const release of gates.values()) release();
    await gpuAgent.stop(1000);
    await h.close();
  });

  it('submit fills resources and constraints; job shows them', async () => {
    const id = await submit(
      'demo.echo',
      '--slots',
      '2',
      '--cpu',
      '1.5',
      '--memory-mb',
      '512',
      '--gpus',
      '1',
      '--tag',
      'region:test',
      '--tag',
      'nvlink',
      '--delay-ms',
      '60000',
    );
    const job = (await h.get(`/api/jobs/${id}`)).body;
    expect(job.resources).toEqual({ slots: 2, cpu: 1.5, memoryMb: 512, gpus: 1 });
    expect(job.constraints).toEqual({ tags: ['region:test', 'nvlink'] });
    const shown = await baton('job', id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^resources\s+2 slots, 1\.5 cpu, 512 MiB, 1 gpu$/m);
    expect(shown.stdout).toMatch(/^tags\s+region:test,nvlink$/m);
    expect(shown.stdout).toMatch(/^gpus\s+-$/m);
    expect(shown.stdout).not.toMatch(/^pending/m);
    await h.post(`/api/jobs/${id}/cancel`);

    const plain = await submit('demo.echo', '--delay-ms', '60000');
    expect((await h.get(`/api/jobs/${plain}`)).body.resources).toEqual({ slots: 1, cpu: 0, memoryMb: 0, gpus: 0 });
    expect((await baton('job', plain)).stdout).toMatch(/^resources\s+1 slot$/m);
    await h.post(`/api/jobs/${plain}/cancel`);
  });

  it('job shows the pending reason of a queued job, and the GPUs of a running one', async () => {
    const queued = await submit('demo.echo', '--tag', 'zone:nowhere');
    await h.waitFor(queued, (j) => j.pendingReason?.code === 'NO_AGENT_WITH_TAGS');
    const shown = await baton('job', queued);
    expect(shown.stdout).toMatch(/^state\s+queued\npending\s+NO_AGENT_WITH_TAGS: \S.*$/m);
    await h.post(`/api/jobs/${queued}/cancel`);

    const release = openGate('job-gpu');
    const running = await submit('test.gpu', '--payload', '{"key":"job-gpu"}', '--gpus', '1');
    await h.waitFor(running, (j) => j.state === 'running');
    const gpuShown = await baton('job', running);
    expect(gpuShown.stdout).toMatch(/^gpus\s+0$/m); // GPU 1 is unhealthy
    expect(gpuShown.stdout).toMatch(/^agent\s+\S+$/m);
    release();
    await h.waitFor(running, (j) => j.state === 'succeeded');
  });

  it('agents lists a table, or JSON', async () => {
    const release = openGate('agents');
    const id = await submit('test.gpu', '--payload', '{"key":"agents"}', '--gpus', '1');
    await h.waitFor(id, (j) => j.state === 'running');
    const r = await baton('agents');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+POOL\s+STATE\s+SLOTS\s+GPUS\s+TAGS\s+QUEUES$/);
    expect(lines).toHaveLength(3);
    expect(r.stdout).toMatch(
      /^gpu-box\s+gpu\s+connected\s+1\/2\s+1\/2 \(\+1 unhealthy\)\s+region:test,nvlink\s+default$/m,
    );
    expect(r.stdout).toMatch(/^agent-\S+\s+default\s+connected\s+0\/3\s+-\s+-\s+default$/m);
    const json = await baton('agents', '--json');
    expect(json.code).toBe(0);
    const { agents } = JSON.parse(json.stdout);
    expect(agents).toHaveLength(2);
    expect(agents.find((a: { name: string }) => a.name === 'gpu-box').jobs).toEqual([id]);
    release();
    await h.waitFor(id, (j) => j.state === 'succeeded');
  });

  it('capacity shows pools, totals and GPUs, or JSON', async () => {
    const release = openGate('capacity');
    const id = await submit('test.chatty', '--payload', '{"key":"capacity"}', '--slots', '2');
    await h.waitFor(id, (j) => j.state === 'running');
    const r = await baton('capacity');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^POOL\s+CAPACITY\s+TARGET\s+USED\s+AVAILABLE\s+JOBS$/m);
    expect(r.stdout).toMatch(/^default\s+3\s+\d+\s+2\s+1\s+1$/m); // TARGET: a placeholder until autoscaling
    expect(r.stdout).toMatch(/^gpu\s+2\s+\d+\s+0\s+2\s+0$/m);
    expect(r.stdout).toMatch(/^slots: 5 total, 2 used, 3 available$/m);
    expect(r.stdout).toMatch(/^gpus: +2 total, 0 used, 1 available, 1 unhealthy$/m);
    const json = await baton('capacity', '--json');
    expect(JSON.parse(json.stdout)).toEqual({
      slots: [
        { name: 'default', capacity: 3, target: expect.any(Number), used: 2, available: 1, holders: 1 },
        { name: 'gpu', capacity: 2, target: expect.any(Number), used: 0, available: 2, holders: 0 },
      ],
      totals: { capacity: 5, used: 2, available: 3 },
      gpus: { total: 2, used: 0, available: 1, unhealthy: 1 },
    });
    release();
    await h.waitFor(id, (j) => j.state === 'succeeded');
  });

  it("logs prints a job's output as written, by stream, or as JSON", async () => {
    const id = await submit('test.chatty');
    await h.waitFor(id, (j) => j.state === 'succeeded');
    const all = await baton('logs', id);
    expect(all).toEqual({ code: 0, stdout: 'one\ntwo\noops\nthree ✓\n', stderr: '' });
    expect((await baton('logs', id, '--stream', 'stderr')).stdout).toBe('oops\n');
    const json = JSON.parse((await baton('logs', id, '--json')).stdout);
    expect(json.chunks.map((c: { data: string }) => c.data)).toEqual(['one\n', 'two\n', 'oops\n', 'three ✓\n']);
    expect(json.lastSeq).toBe(json.chunks[3].seq);
    const finished = await baton('logs', id, '--follow');
    expect(finished).toEqual({ code: 0, stdout: 'one\ntwo\noops\nthree ✓\n', stderr: '' });
  });

  it('logs --follow streams until the job ends', async () => {
    const release = openGate('follow');
    const id = await submit('test.chatty', '--payload', '{"key":"follow"}');
    const child = spawn(process.execPath, [
      BIN,
      'logs',
      id,
      '--follow',
      '--server',
      h.url,
      '--token',
      TEST_ADMIN_TOKEN,
    ]);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('one\n')) resolve();
      }),
    );
    expect(stdout).toBe('one\n'); // the job is still held at its gate
    release();
    expect(await exited).toBe(0);
    expect(stdout).toBe('one\ntwo\noops\nthree ✓\n');
    expect(stderr).toBe('');
    expect((await h.get(`/api/jobs/${id}`)).body.state).toBe('succeeded');

    const json = await baton('logs', id, '--follow', '--json', '--stream', 'stdout');
    const lines = json.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((c) => c.data)).toEqual(['one\n', 'two\n', 'three ✓\n']);
  });

  it('logs of an unknown job or an unreachable server exits 1 in one line', async () => {
    for (const args of [['01ARZ3NDEKTSV4RRFFQ69G5FAV'], ['01ARZ3NDEKTSV4RRFFQ69G5FAV', '--follow']]) {
      const r = await baton('logs', ...args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^baton: job 01ARZ3NDEKTSV4RRFFQ69G5FAV not found \(JOB_NOT_FOUND\)\n$/);
    }
    for (const args of [['logs', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '--follow'], ['agents'], ['capacity']]) {
      const r = await new Promise<Run>((resolve) =>
        execFile(
          process.execPath,
          [BIN, ...args, '--server', 'http://127.0.0.1:1'],
          { timeout: 20_000 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^baton: cannot reach Baton at http:\/\/127\.0\.0\.1:1.*\n$/);
    }
  });

  it('refuses bad flags and ids with exit 2, naming them, and sends nothing', async () => {
    const before = await jobCount();
    for (const [args, flag] of [
      [['submit', 'demo.echo', '--gpus', '-1'], '--gpus'],
      [['submit', 'demo.echo', '--gpus', '1.5'], '--gpus'],
      [['submit', 'demo.echo', '--slots', '0'], '--slots'],
      [['submit', 'demo.echo', '--cpu', 'lots'], '--cpu'],
      [['submit', 'demo.echo', '--cpu', '-0.5'], '--cpu'],
      [['submit', 'demo.echo', '--memory-mb', '1e3'], '--memory-mb'],
      [['submit', 'demo.echo', '--tag', 'not a tag'], '--tag'],
      [['logs', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '--stream', 'both'], '--stream'],
      [['logs', 'not-a-job-id'], '"not-a-job-id"'],
    ] as const) {
      const r = await baton(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr.startsWith(`baton: ${flag} `), r.stderr).toBe(true);
    }
    expect(await jobCount()).toBe(before);
  });
});
