import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCES, newJobId } from '@baton/core';
import { openStore } from '@baton/store';
import { Cluster, Redis } from 'ioredis';
import { defineStoreConformance } from './conformance.js';
import { dropPrefix } from './redis-prefix.js';

/**
 * The conformance suite on a 3-node Redis Cluster that this file starts from the installed
 * `redis-server` on free loopback ports (no replicas, no persistence) and stops at the end.
 */
const HOST = '127.0.0.1';
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'baton-redis-cluster-'));
const prefix = `baton-cluster-${randomBytes(5).toString('hex')}`;
const servers: ChildProcess[] = [];
const ports: number[] = [];

/** A loopback port free now, whose cluster bus port (port + 10000) is free too. */
async function freePort(): Promise<number> {
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(port, HOST, () => {
        const address = server.address();
        server.close(() =>
          typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
        );
      });
    });
  for (let i = 0; i < 50; i++) {
    const port = await listen(0);
    if (port + 10000 > 65535 || ports.includes(port)) continue;
    try {
      await listen(port + 10000);
      return port;
    } catch {
      // The bus port is taken: try another.
    }
  }
  throw new Error('no free loopback port pair for a cluster node');
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function nodeAnswers(port: number, command: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', HOST, '-p', String(port), ...command]);
  return stdout;
}

beforeAll(async () => {
  for (let i = 0; i < 3; i++) ports.push(await freePort());
  for (const port of ports) {
    const server = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    servers.push(server);
  }
  for (const port of ports)
    await until(`node ${port}`, async () => (await nodeAnswers(port, ['ping'])).includes('PONG'));
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `${HOST}:${p}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  for (const port of ports) {
    await until(`cluster state ok on ${port}`, async () => {
      const info = await nodeAnswers(port, ['cluster', 'info']);
      return info.includes('cluster_state:ok') && info.includes('cluster_slots_ok:16384');
    });
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          if (server.exitCode !== null || server.signalCode !== null) return resolve();
          server.once('exit', () => resolve());
          server.kill('SIGTERM');
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
});

/** Each conformance test gets a prefix of its own, dropped after it. */
let conformancePrefixes = 0;
defineStoreConformance('redis cluster', async () => {
  const testPrefix = `${prefix}-c${conformancePrefixes++}`;
  const testUrl = `redis://${HOST}:${ports[0]}?prefix=${testPrefix}&cluster=1`;
  return {
    open: (options) => openStore(testUrl, options),
    drop: async () => {
      const cluster = new Cluster([{ host: HOST, port: ports[0]! }]);
      try {
        await cluster.ping(); // connected, so it knows its masters
        await dropPrefix(cluster, testPrefix);
      } finally {
        await cluster.quit();
      }
    },
  };
});

describe('Redis Cluster specifics', () => {
  it('keeps one store on one slot, and reaches it through any node', async () => {
    const store = await openStore(`redis://${HOST}:${ports[2]}?prefix=${prefix}&cluster=1`);
    try {
      const now = Date.now();
      const [r] = await store.enqueue([
        {
          id: newJobId(now),
          queue: 'q',
          task: 't',
          owner: 'o',
          payload: 1,
          priority: 'normal',
          priorityLevel: 0,
          resources: { ...DEFAULT_RESOURCES },
          constraints: { tags: [] },
          maxAttempts: 1,
          backoffMs: 0,
          timeoutMs: null,
          runAt: now,
          idempotencyKey: null,
          createdAt: now,
        },
      ]);
      expect(await store.getJob(r!.job.id)).toMatchObject({ state: 'queued' });
      const node = new Redis({ host: HOST, port: ports[0]! });
      try {
        const slot = await node.call('cluster', 'keyslot', `{${prefix}}:job:${r!.job.id}`);
        expect(await node.call('cluster', 'keyslot', `{${prefix}}:queued`)).toBe(slot);
      } finally {
        await node.quit();
      }
    } finally {
      await store.close();
    }
  });
});
