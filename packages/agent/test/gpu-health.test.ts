import { chmod, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuHealth } from '@baton/core';
import { GpuHealthMonitor, type GpuHealthMonitorOptions } from '../src/gpu-health.js';
import type { TaskLogger } from '../src/task.js';

let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-gpu-health-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const eightGpus = Array.from({ length: 8 }, (_, index) => ({ index, healthy: true }));

function recordingLogger(): TaskLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    info() {},
    debug() {},
    error() {},
    warn: (obj: object | string, msg?: string) => void warnings.push(typeof obj === 'string' ? obj : (msg ?? '')),
  };
}

function monitor(options: Partial<GpuHealthMonitorOptions>): { monitor: GpuHealthMonitor; reports: GpuHealth[][] } {
  const reports: GpuHealth[][] = [];
  const m = new GpuHealthMonitor({ gpus: eightGpus, onChange: (changes) => void reports.push(changes), ...options });
  return { monitor: m, reports };
}

describe('GpuHealthMonitor with a health file', () => {
  it('reports a GPU the file marks unhealthy, and its recovery when the file goes', async () => {
    const file = join(dir, `health-${n++}.json`);
    const { monitor: m, reports } = monitor({ healthFile: file });
    expect(await m.check()).toEqual([]); // no file: all healthy, nothing changed
    await writeFile(file, JSON.stringify({ unhealthy: { '2': 'XID 79' } }));
    expect(await m.check()).toEqual([{ index: 2, healthy: false, reason: 'XID 79' }]);
    expect(await m.check()).toEqual([]); // only changes are reported
    await unlink(file);
    expect(await m.check()).toEqual([{ index: 2, healthy: true }]);
    expect(reports).toEqual([[{ index: 2, healthy: false, reason: 'XID 79' }], [{ index: 2, healthy: true }]]);
  });

  it('reports a new reason for a GPU that stays unhealthy, and ignores unknown indices', async () => {
    const file = join(dir, `health-${n++}.json`);
    const { monitor: m } = monitor({ healthFile: file, gpus: [{ index: 0 }, { index: 1 }] });
    await writeFile(file, JSON.stringify({ unhealthy: { '1': 'XID 79', '9': 'not ours' } }));
    expect(await m.check()).toEqual([{ index: 1, healthy: false, reason: 'XID 79' }]);
    await writeFile(file, JSON.stringify({ unhealthy: { '0': '', '1': 'XID 48' } }));
    expect(await m.check()).toEqual([
      { index: 0, healthy: false, reason: 'health file' },
      { index: 1, healthy: false, reason: 'XID 48' },
    ]);
  });

  it('ignores an invalid file (logged once), keeping the last known health', async () => {
    const file = join(dir, `health-${n++}.json`);
    const logger = recordingLogger();
    const { monitor: m } = monitor({ healthFile: file, logger });
    await writeFile(file, JSON.stringify({ unhealthy: { '3': 'XID 31' } }));
    expect(await m.check()).toEqual([{ index: 3, healthy: false, reason: 'XID 31' }]);
    await writeFile(file, '{"unhealthy": {"3": "XI'); // caught half-written
    expect(await m.check()).toEqual([]);
    expect(await m.check()).toEqual([]);
    await writeFile(file, JSON.stringify({ unhealthy: ['3'] }));
    expect(await m.check()).toEqual([]);
    expect(logger.warnings).toHaveLength(2);
    expect(logger.warnings[0]).toMatch(/not JSON/);
    expect(logger.warnings[1]).toMatch(/invalid/);
    expect(m.current().find((gpu) => gpu.index === 3)).toEqual({ index: 3, healthy: false, reason: 'XID 31' });
    await writeFile(file, JSON.stringify({ unhealthy: {} }));
    expect(await m.check()).toEqual([{ index: 3, healthy: true }]);
  });

  it('reports a GPU that started unhealthy once it is healthy', async () => {
    const { monitor: m } = monitor({ healthFile: join(dir, 'absent.json'), gpus: [{ index: 0, healthy: false }] });
    expect(await m.check()).toEqual([{ index: 0, healthy: true }]);
  });

  it('polls on its own once started, until stopped', async () => {
    const file = join(dir, `health-${n++}.json`);
    const { monitor: m, reports } = monitor({ healthFile: file, intervalMs: 20 });
    m.start();
    m.start(); // idempotent
    await writeFile(file, JSON.stringify({ unhealthy: { '5': 'XID 79' } }));
    await eventually(() => reports.length === 1);
    m.stop();
    m.stop();
    await unlink(file);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(reports).toEqual([[{ index: 5, healthy: false, reason: 'XID 79' }]]);
  });
});

describe('GpuHealthMonitor with nvidia-smi', () => {
  async function fakeNvidiaSmi(): Promise<{ path: string; say(lines: string[], code?: number): Promise<void> }> {
    const folder = await mkdtemp(join(dir, 'smi-'));
    const path = join(folder, 'nvidia-smi');
    await writeFile(path, '#!/bin/sh\ncat "$(dirname "$0")/output.txt"\nexit $(cat "$(dirname "$0")/code.txt")\n');
    await chmod(path, 0o755);
    return {
      path,
      async say(lines, code = 0) {
        await writeFile(join(folder, 'output.txt'), lines.map((line) => `${line}\n`).join(''));
        await writeFile(join(folder, 'code.txt'), String(code));
      },
    };
  }
  const line = (i: number, tail = '81559, 0, 34'): string => `${i}, GPU-${i}, NVIDIA H100 80GB HBM3, ${tail}`;
  const four = [0, 1, 2, 3].map((i) => line(i));

  it('reports GPUs that read as lost or disappear, and their recovery', async () => {
    const smi = await fakeNvidiaSmi();
    const { monitor: m, reports } = monitor({ nvidiaSmi: smi.path, gpus: [0, 1, 2, 3].map((index) => ({ index })) });
    await smi.say(four);
    expect(await m.check()).toEqual([]);

    await smi.say([line(0), line(1, '[GPU is lost], [GPU is lost], [GPU is lost]'), line(2), line(3)]);
    const lost = await m.check();
    expect(lost).toEqual([{ index: 1, healthy: false, reason: expect.stringContaining('GPU is lost') }]);

    await smi.say([line(0), line(1), line(2)]); // GPU 3 falls off the bus
    expect(await m.check()).toEqual([
      { index: 1, healthy: true },
      { index: 3, healthy: false, reason: expect.stringContaining('not listed by nvidia-smi') },
    ]);

    await smi.say(four);
    expect(await m.check()).toEqual([{ index: 3, healthy: true }]);
    expect(reports).toHaveLength(3);
  });

  it('makes every GPU unhealthy only after nvidia-smi fails several polls in a row', async () => {
    const smi = await fakeNvidiaSmi();
    const logger = recordingLogger();
    const { monitor: m } = monitor({
      nvidiaSmi: smi.path,
      gpus: [{ index: 0 }, { index: 1 }],
      nvidiaSmiFailures: 2,
      logger,
    });
    await smi.say(["NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."], 9);
    expect(await m.check()).toEqual([]);
    const changes = await m.check();
    expect(changes.map((c) => [c.index, c.healthy])).toEqual([
      [0, false],
      [1, false],
    ]);
    expect(changes[0]!.reason).toMatch(/^nvidia-smi failed: .*code 9/);
    expect(logger.warnings).toHaveLength(1);

    await smi.say([line(0), line(1)]);
    expect(await m.check()).toEqual([
      { index: 0, healthy: true },
      { index: 1, healthy: true },
    ]);
  });
});

async function eventually(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
