import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredGpus, detectGpus, parseNvidiaSmi } from '../src/gpus.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-gpus-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes an executable `nvidia-smi` into its own folder that prints `output` and exits `code`. */
async function fakeNvidiaSmi(name: string, output: string, code = 0): Promise<string> {
  const folder = join(dir, name);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'output.txt'), output);
  const script = join(folder, 'nvidia-smi');
  await writeFile(
    script,
    [
      '#!/bin/sh',
      'here=$(dirname "$0")',
      'printf "%s\\n" "$@" > "$here/args.txt"',
      'cat "$here/output.txt"',
      `exit ${code}`,
    ].join('\n') + '\n',
  );
  await chmod(script, 0o755);
  return script;
}

const uuid = (i: number): string => `GPU-5d1c0e2a-7b3f-4c11-9a0e-00000000000${i}`;
const h100s = Array.from(
  { length: 8 },
  (_, i) => `${i}, ${uuid(i)}, NVIDIA H100 80GB HBM3, 81559, ${i * 10}, ${30 + i}`,
);

describe('detectGpus', () => {
  it('lists every GPU nvidia-smi reports, asking it for CSV without units', async () => {
    const smi = await fakeNvidiaSmi('eight', h100s.join('\n') + '\n');
    const gpus = await detectGpus({ nvidiaSmi: smi });
    expect(gpus).toHaveLength(8);
    expect(gpus![0]).toEqual({
      index: 0,
      uuid: uuid(0),
      name: 'NVIDIA H100 80GB HBM3',
      memoryMb: 81559,
      healthy: true,
    });
    expect(gpus!.map((gpu) => gpu.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(gpus!.every((gpu) => gpu.healthy && gpu.memoryMb === 81559)).toBe(true);
    const args = (await readFile(join(dir, 'eight', 'args.txt'), 'utf8')).trim().split('\n');
    expect(args).toEqual([
      '--query-gpu=index,uuid,name,memory.total,utilization.gpu,temperature.gpu',
      '--format=csv,noheader,nounits',
    ]);
  });

  it('finds nvidia-smi on PATH by default', async () => {
    const smi = await fakeNvidiaSmi('on-path', h100s.slice(0, 2).join('\n') + '\n');
    const saved = process.env.PATH;
    process.env.PATH = [join(smi, '..'), saved].join(delimiter);
    try {
      expect(await detectGpus()).toHaveLength(2);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('reports a GPU whose fields read as lost or in error as unhealthy', async () => {
    const lines = [
      h100s[0],
      `1, ${uuid(1)}, NVIDIA H100 80GB HBM3, [GPU is lost], [GPU is lost], [GPU is lost]`,
      `2, ${uuid(2)}, NVIDIA H100 80GB HBM3, 81559, [Unknown Error], [Unknown Error]`,
      `3, ${uuid(3)}, NVIDIA H100 80GB HBM3, 81559, 0, ERR!`,
      `4, ${uuid(4)}, NVIDIA H100 80GB HBM3, 81559, [N/A], [Not Supported]`,
    ];
    const gpus = await detectGpus({ nvidiaSmi: await fakeNvidiaSmi('lost', lines.join('\n') + '\n') });
    expect(gpus!.map((gpu) => [gpu.index, gpu.healthy])).toEqual([
      [0, true],
      [1, false],
      [2, false],
      [3, false],
      [4, true], // N/A and Not Supported are not faults
    ]);
    expect(gpus![1]!.memoryMb).toBe(0);
  });

  it('leaves out a GPU nvidia-smi cannot reach, and keeps the others, even when it exits non-zero', async () => {
    const output = [h100s[0], 'Unable to determine the device handle for GPU 0000:3B:00.0: Unknown Error', h100s[2]];
    const gpus = await detectGpus({ nvidiaSmi: await fakeNvidiaSmi('unreachable', output.join('\n') + '\n', 15) });
    expect(gpus!.map((gpu) => gpu.index)).toEqual([0, 2]);
  });

  it('returns null when nvidia-smi is not installed', async () => {
    expect(await detectGpus({ nvidiaSmi: join(dir, 'nowhere', 'nvidia-smi') })).toBeNull();
    const saved = process.env.PATH;
    process.env.PATH = join(dir, 'empty-path');
    try {
      expect(await detectGpus()).toBeNull();
    } finally {
      process.env.PATH = saved;
    }
  });

  it('throws a clear error when nvidia-smi fails', async () => {
    const smi = await fakeNvidiaSmi(
      'failing',
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
      9,
    );
    await expect(detectGpus({ nvidiaSmi: smi })).rejects.toThrow(
      /exited with code 9: NVIDIA-SMI has failed because it couldn't communicate/,
    );
  });

  it('throws when nvidia-smi prints something it cannot parse', async () => {
    const smi = await fakeNvidiaSmi('garbage', 'index, uuid, name\nthis is not csv\n');
    await expect(detectGpus({ nvidiaSmi: smi })).rejects.toThrow(/unexpected nvidia-smi output/);
  });

  it('throws when nvidia-smi does not answer in time', async () => {
    const folder = join(dir, 'hung');
    await mkdir(folder, { recursive: true });
    const smi = join(folder, 'nvidia-smi');
    await writeFile(smi, '#!/bin/sh\nexec sleep 10\n');
    await chmod(smi, 0o755);
    await expect(detectGpus({ nvidiaSmi: smi, timeoutMs: 200 })).rejects.toThrow(/did not answer within 200 ms/);
  });

  it('returns no GPUs when nvidia-smi finds none', async () => {
    const smi = await fakeNvidiaSmi('none', 'No devices were found\n', 6);
    expect(await detectGpus({ nvidiaSmi: smi })).toEqual([]);
  });
});

describe('parseNvidiaSmi', () => {
  it('keeps a name that holds a comma whole', () => {
    const { gpus } = parseNvidiaSmi('0, GPU-1, Odd, Name, 1024, 0, 40\n');
    expect(gpus).toEqual([{ index: 0, uuid: 'GPU-1', name: 'Odd, Name', memoryMb: 1024, healthy: true }]);
  });
});

describe('declaredGpus', () => {
  it('makes placeholder devices for --gpus N', () => {
    expect(declaredGpus(4)).toEqual(
      [0, 1, 2, 3].map((i) => ({ index: i, uuid: `declared-${i}`, name: 'declared', memoryMb: 0, healthy: true })),
    );
    expect(declaredGpus(0)).toEqual([]);
    expect(() => declaredGpus(-1)).toThrow(RangeError);
    expect(() => declaredGpus(1.5)).toThrow(RangeError);
  });
});
