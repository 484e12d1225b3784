import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Database servers a test may take down: started from the installed binaries on a free
 * loopback port in a temp dir, stopped (and started again on the same port and data) at the
 * test's will. The shared servers on 5432 and 6379 are never touched.
 */
const HOST = '127.0.0.1';
const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface ThrowawayServer {
  readonly port: number;
  /** A store URL on this server, with `prefix`/`schema` naming the store's space. */
  storeUrl(name: string): string;
  /** Starts it (again, on the same port and data) and waits until it answers. */
  start(): Promise<void>;
  /** Stops it (SIGKILL for Redis, an immediate shutdown for PostgreSQL) and waits for the exit. */
  stop(): Promise<void>;
  /** Stops it for good and removes its data. */
  dispose(): Promise<void>;
}

async function waitUntil(answers: () => Promise<boolean>, what: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (await answers().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not answer; its log ends:\n${log()}`);
    await sleep(25);
  }
}

function readTail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').slice(-2000) : '(no log)';
}

async function exited(child: ChildProcess | null, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** A `redis-server` with an AOF fsynced on every write, so a restart keeps what was acknowledged. */
export async function throwawayRedis(): Promise<ThrowawayServer> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-redis-'));
  const logFile = join(dir, 'redis.log');
  const port = await freePort();
  let child: ChildProcess | null = null;
  const server: ThrowawayServer = {
    port,
    storeUrl: (prefix) => `redis://${HOST}:${port}?prefix=${prefix}&connectTimeoutMs=2000`,
    async start() {
      const args = ['--port', String(port), '--bind', HOST, '--dir', dir, '--logfile', logFile, '--save', ''];
      args.push('--appendonly', 'yes', '--appendfsync', 'always');
      child = spawn('redis-server', args, { stdio: 'ignore' });
      await waitUntil(
        async () => (await run('redis-cli', ['-h', HOST, '-p', String(port), 'ping'])).stdout.trim() === 'PONG',
        `redis-server on port ${port}`,
        () => readTail(logFile),
      );
    },
    async stop() {
      const c = child;
      child = null;
      await exited(c, 'SIGKILL');
    },
    async dispose() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** The newest installed PostgreSQL's bin folder. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error(`no PostgreSQL binaries under ${root}`);
  return join(root, versions[0], 'bin');
}

/**
 * A PostgreSQL cluster made by `initdb` in a temp dir (trust authentication, superuser
 * `baton`), listening on a free loopback port. PostgreSQL refuses to run as root, so when the
 * tests run as root it runs as the `postgres` user.
 */
export async function throwawayPostgres(): Promise<ThrowawayServer> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'baton-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const port = await freePort();
  const ids =
    process.getuid?.() === 0
      ? await (async () => {
          const { stdout } = await run('id', ['-u', 'postgres']);
          const uid = Number(stdout.trim());
          const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
          chownSync(dir, uid, gid);
          return { uid, gid };
        })()
      : {};
  const runAs = (file: string, args: string[]) => run(join(bin, file), args, { ...ids, cwd: dir });
  await runAs('initdb', ['-D', data, '-U', 'baton', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  let child: ChildProcess | null = null;
  const server: ThrowawayServer = {
    port,
    storeUrl: (schema) => `postgres://baton@${HOST}:${port}/postgres?schema=${schema}&pool_size=4`,
    async start() {
      const args = ['-D', data, '-p', String(port), '-k', dir, '-c', `listen_addresses=${HOST}`, '-c', 'fsync=off'];
      child = spawn(join(bin, 'postgres'), args, { ...ids, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      const log: string[] = [];
      child.stderr?.on('data', (b: Buffer) => log.push(b.toString()));
      await waitUntil(
        async () => {
          await runAs('pg_isready', ['-h', HOST, '-p', String(port), '-U', 'baton', '-d', 'postgres']);
          return true;
        },
        `postgres on port ${port}`,
        () => log.join('').slice(-2000) || readTail(logFile),
      );
    },
    async stop() {
      const c = child;
      child = null;
      // SIGQUIT: immediate shutdown, every session ends at once, as in a crash.
      await exited(c, 'SIGQUIT');
    },
    async dispose() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
