import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '@baton/server';
import type { Harness } from '../../server/test/harness.js';
import { TEST_ADMIN_TOKEN, startHarness } from '../../server/test/harness.js';
import { scalingText } from '../src/commands/scaling.js';
import { runBaton } from './baton-run.js';

const CONFIG = `pools:
  burst:
    queues: [burst]
    tasks: [demo.sleep]
    max: 3
    slotsPerAgent: 2
`;

describe('baton scaling', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-scaling-'));
    h = await startHarness({ agents: 0, scalingConfig: parseConfigText(CONFIG) });
    for (let i = 0; i < 3; i++) {
      const r = await h.post('/api/jobs', { task: 'demo.sleep', queue: 'burst', payload: { ms: 1 } });
      expect(r.status).toBe(201);
    }
    // Decided now rather than at the next 15 s sync.
    await h.server.scaling.sync();
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const baton = (...args: string[]) =>
    runBaton([...args, '--server', h.url], { BATON_TOKEN: TEST_ADMIN_TOKEN, BATON_CONFIG_DIR: dir });

  it('prints each pool, its agents now and wanted, and the reason', async () => {
    const r = await baton('scaling');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [header, row] = r.stdout.split('\n');
    expect(header).toMatch(/^POOL\s+CURRENT\s+DESIRED\s+MIN–MAX\s+LOAD\s+PENDING\s+LAST SCALE/);
    const cells = row?.split(/\s{2,}/) ?? [];
    expect(cells.slice(0, 6)).toEqual(['burst', '0', '2', '0–3', '3 slots', '3']);
    expect(cells[6]).toMatch(/^\d+ s ago$/);
    // The reason of this sync, or of the wake-up on the first enqueue before it.
    expect(r.stdout).toMatch(
      /^burst: (scale from zero: 3 pending job\(s\) only this pool runs|load 3 slots \(3 pending, 0 running\).*wants 2)$/m,
    );
  });

  it('prints JSON with --json', async () => {
    const r = await baton('scaling', '--json');
    expect(r.code).toBe(0);
    const view = JSON.parse(r.stdout);
    expect(view).toMatchObject({ configured: true, pools: [{ pool: 'burst', desired: 2, current: 0 }] });
  });

  it('says how to configure pools when the server has none', () => {
    const text = scalingText(
      { at: 1, syncSeconds: 15, configured: false, pools: [], unplaceable: 0, strandedGpus: {} },
      2,
    );
    expect(text).toContain('start the server with --config baton.yaml');
  });

  it('baton server refuses a bad baton.yaml, naming the line and the field, and does not start', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, CONFIG.replace('max: 3', 'max: -1'));
    const r = await runBaton(
      ['server', '--store', 'sqlite::memory:', '--port', '0', '--config', file, '--insecure-no-auth'],
      { BATON_CONFIG_DIR: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:5: pools.burst.max: max must be at least 1`);
    expect(r.stdout).not.toMatch(/listening on/);
    const missing = await runBaton(
      ['server', '--store', 'sqlite::memory:', '--port', '0', '--config', join(dir, 'nope.yaml'), '--insecure-no-auth'],
      { BATON_CONFIG_DIR: dir },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read config .*nope\.yaml: ENOENT/);
  });
});
