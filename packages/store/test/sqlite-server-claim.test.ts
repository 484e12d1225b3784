import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BatonError } from '@baton/core';
import { openStore } from '@baton/store';

const dir = mkdtempSync(join(tmpdir(), 'baton-claim-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** The built store, as a server process would load it. */
const STORE_DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** Another process (a second `baton server`) that opens the file and claims it, then idles. */
async function claimingProcess(file: string): Promise<ChildProcess> {
  const script = `
    const { openStore } = await import(process.env.STORE_DIST);
    const store = await openStore('sqlite:' + process.env.DB);
    await store.claimServer('child-server');
    // Nothing keeps the store reachable once this module has run: a garbage collection then
    // must not end the claim.
    setTimeout(() => {
      globalThis.gc();
      process.stdout.write('claimed\\n');
    }, 500);
    setInterval(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    env: { ...process.env, STORE_DIST, DB: file },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('claimed')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`claiming process exited ${code}: ${err}`)));
  });
  return child;
}

async function refusal(promise: Promise<unknown>): Promise<BatonError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BatonError);
  return err as BatonError;
}

describe('one server per SQLite file (claimServer)', () => {
  it('refuses a second server while another process holds the file, and takes it once that one is killed', async () => {
    const file = join(dir, 'shared.db');
    const child = await claimingProcess(file);
    const store = await openStore(`sqlite:${file}`);
    try {
      const err = await refusal(store.claimServer('second-server'));
      expect(err.code).toBe('STORE_IN_USE');
      expect(err.httpStatus).toBe(409);
      expect(err.message).toContain(`another Baton server is using ${file}`);
      expect(err.message).toContain(`pid ${child.pid}`);
      expect(err.message).toContain('child-server');
      expect(err.message).toMatch(/one server per SQLite file, or use PostgreSQL or Redis/);
      expect(err.details).toMatchObject({ serverId: 'child-server', pid: child.pid });
      // Opening the file without claiming (baton store copy, a one-off tool) still works.
      await store.registerTasks([{ task: 't', queue: 'q' }]);
      expect(await store.taskRoutes()).toEqual([{ task: 't', queue: 'q', expiresAt: null }]);

      // A holder killed with kill -9 leaves no claim behind.
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      await store.claimServer('second-server');
      await store.claimServer('second-server'); // again: nothing to do

      // Now this process holds it: another store (here or elsewhere) is refused.
      const third = await openStore(`sqlite:${file}`);
      try {
        const again = await refusal(third.claimServer('third-server'));
        expect(again.code).toBe('STORE_IN_USE');
        expect(again.message).toContain(`pid ${process.pid}`);
        expect(again.message).toContain('second-server');
      } finally {
        await third.close();
      }
    } finally {
      await store.close();
    }

    // A clean close gives the claim up.
    const next = await openStore(`sqlite:${file}`);
    try {
      await next.claimServer('next-server');
    } finally {
      await next.close();
    }
  });

  it('claims nothing for a store in memory', async () => {
    const a = await openStore('sqlite::memory:');
    const b = await openStore('sqlite::memory:');
    try {
      await a.claimServer('a');
      await b.claimServer('b');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
