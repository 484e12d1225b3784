import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const gen = fileURLToPath(new URL('../dist/gen-gpu-trace.js', import.meta.url));

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe('npm run bench -- packing --suite', () => {
  it('runs the named suite traces and prints a line per run and the goal table', async () => {
    const { code, stdout, stderr } = await run(main, [
      'packing',
      '--suite',
      '--only',
      '16x4-online-0.85',
      '--priorities',
      'ignored',
    ]);
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { system: string; condition: string });
    expect(lines.map((l) => `${l.system}/${l.condition}`)).toEqual([
      'baton/none',
      'best-fit/none',
      'first-fit/none',
      'fifo/none',
      'baton/x2',
      'easy/x2',
      'baton/learned',
    ]);
    expect(stderr).toMatch(/\[1\/1\] 16x4-online-0\.85, priorities ignored/);
    expect(stderr).toMatch(/16x4-online-0\.85\s+ign\s+4\s/);
    expect(stderr).toMatch(/goals met: \d+ of 8/);
    expect(stderr).toMatch(/16x4-online-0\.85\s+ign\s+easy \(x2\)\s+\d\.\d{3}/);
  });

  it('refuses bad suite flags with exit 2 and says why', async () => {
    const cases: [string[], RegExp][] = [
      [['packing', '--suite', '--only', 'nope'], /unknown suite trace nope; known: 10x8-batch/],
      [['packing', '--suite', '--trace', 'x.jsonl'], /--suite and --trace exclude each other/],
      [['packing', '--trace', 'x.jsonl', '--only', '10x8-batch'], /go with packing --suite/],
      [['packing', '--suite', '--priorities', 'some'], /--priorities takes ignored, honoured or both/],
      [['packing'], /packing needs --trace FILE .* or --suite/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr, stdout } = await run(main, args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
      expect(stdout).toBe('');
    }
  });
});

describe('gen-gpu-trace', () => {
  it('writes a trace with a mixed fleet and task classes', async () => {
    const { code, stdout } = await run(gen, [
      '--seed',
      '4',
      '--jobs',
      '20',
      '--fleet',
      '2x8+4x2',
      '--task-classes',
      '3',
    ]);
    expect(code).toBe(0);
    const [header, ...jobs] = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(header).toMatchObject({
      fleet: {
        groups: [
          { agents: 2, gpusPerAgent: 8 },
          { agents: 4, gpusPerAgent: 2 },
        ],
      },
    });
    expect(jobs).toHaveLength(20);
    expect(jobs.every((j) => typeof j.task === 'string')).toBe(true);
  });

  it('refuses bad flags with exit 2 and the usage', async () => {
    for (const [args, message] of [
      [['--fleet', '10y8'], /AGENTSxGPUS/],
      [['--mode', 'later'], /--mode must be batch or online/],
      [['--jobs', '0'], /--jobs must be an integer 1–1000000/],
      [['--mix', '1:70,16:1', '--fleet', '4x8'], /16-GPU jobs, more than any agent has \(8\)/],
      [['--bogus', '1'], /Unknown option '--bogus'/],
    ] as [string[], RegExp][]) {
      const { code, stderr } = await run(gen, args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
      expect(stderr).toMatch(/usage: gen-gpu-trace/);
    }
  });
});
