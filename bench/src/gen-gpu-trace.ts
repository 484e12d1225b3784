import { parseArgs } from 'node:util';
import { generateTrace, parseFleet, parseMix } from './packing/generate.js';

/**
 * `node bench/dist/gen-gpu-trace.js --seed N --jobs N --mode batch|online [--load 0.95]
 * [--fleet 10x8|4x8+8x4+16x1] [--mix 1:70,2:12,4:10,8:8] [--users 8] [--task-classes N]`:
 * a trace on stdout. Without `--task-classes` and with a uniform fleet, the same lines as
 * `shared/traces/gen-gpu-trace.mjs` with the same flags.
 */
const USAGE =
  'usage: gen-gpu-trace --seed N --jobs N --mode batch|online [--load 0.95] [--fleet 10x8|4x8+8x4+16x1] ' +
  '[--mix 1:70,2:12,4:10,8:8] [--users 8] [--task-classes N]';

function main(): void {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '1' },
      jobs: { type: 'string', default: '2000' },
      mode: { type: 'string', default: 'batch' },
      load: { type: 'string', default: '0.95' },
      fleet: { type: 'string', default: '10x8' },
      mix: { type: 'string', default: '1:70,2:12,4:10,8:8' },
      users: { type: 'string', default: '8' },
      'task-classes': { type: 'string', default: '0' },
    },
    strict: true,
  });
  const int = (name: string, text: string, min: number, max: number) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new RangeError(`--${name} must be an integer ${min}–${max}, got "${text}"`);
    return n;
  };
  const mode = values.mode;
  if (mode !== 'batch' && mode !== 'online') throw new RangeError(`--mode must be batch or online, got "${mode}"`);
  const load = Number(values.load);
  if (!(load > 0 && load <= 2)) throw new RangeError(`--load must be a number in (0, 2], got "${values.load}"`);
  process.stdout.write(
    generateTrace({
      seed: int('seed', values.seed, 0, 2 ** 32 - 1),
      jobs: int('jobs', values.jobs, 1, 1_000_000),
      mode,
      load,
      fleet: parseFleet(values.fleet),
      mix: parseMix(values.mix),
      users: int('users', values.users, 1, 100_000),
      taskClasses: int('task-classes', values['task-classes'], 0, 100_000),
    }),
  );
}

try {
  main();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
  process.exitCode = 2;
}
