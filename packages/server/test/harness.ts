import { randomBytes } from 'node:crypto';
import { FINAL_STATES } from '@baton/core';
import type { JobState } from '@baton/core';
import { Agent, WsLink, defineTask, demoTasks } from '@baton/agent';
import type { AnyTaskDefinition } from '@baton/agent';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer, ServerOptions } from '@baton/server';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import pg from 'pg';
import { TEST_AGENT_TOKEN } from './agent-wire-client.js';

/** Where a harness keeps its jobs: each harness gets a fresh, empty database, dropped on close. */
export type HarnessBackend = 'sqlite' | 'postgres' | 'redis';
/** How its agents reach the server: in process (`server.localLink()`) or over WebSocket (`WsLink`). */
export type HarnessLink = 'local' | 'ws';

/** The built-in admin token harness servers take (unless a test sets its own or turns auth off). */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';
/** Headers of a request as the harness's admin. */
export const ADMIN = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

/** The test PostgreSQL server; BATON_TEST_PG_URL points elsewhere. */
const PG_SERVER = process.env.BATON_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
const REDIS_HOST = '127.0.0.1';
const REDIS_PORT = 6379;
/** Not database 0, where other runs keep many keys: dropping a prefix SCANs its database. */
const REDIS_DB = 11;

/** Opens a store on a database made for one harness, and the way to drop it. */
async function freshStore(backend: HarnessBackend): Promise<{ store: Store; drop(): Promise<void> }> {
  const name = `baton_api_${randomBytes(5).toString('hex')}`;
  if (backend === 'sqlite') return { store: await openStore('sqlite::memory:'), drop: async () => {} };
  if (backend === 'postgres') {
    const store = await openStore(`${PG_SERVER}${PG_SERVER.includes('?') ? '&' : '?'}schema=${name}`);
    return {
      store,
      async drop() {
        const admin = new pg.Client({ connectionString: PG_SERVER });
        await admin.connect();
        try {
          await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
        } finally {
          await admin.end();
        }
      },
    };
  }
  const store = await openStore(`redis://${REDIS_HOST}:${REDIS_PORT}/${REDIS_DB}?prefix=${name}`);
  return {
    store,
    async drop() {
      const redis = new Redis({ host: REDIS_HOST, port: REDIS_PORT, db: REDIS_DB });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `{${name}}:*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.unlink(...keys);
        } while (cursor !== '0');
      } finally {
        await redis.quit();
      }
    },
  };
}

/**
 * A real server listening on a free loopback port, on a fresh store of the chosen backend
 * (default an in-memory SQLite), with agents linked in process or over WebSocket.
 */
export interface Harness {
  url: string;
  store: Store;
  server: BatonServer;
  agents: Agent[];
  /** `apiUrl`: what command steps get as BATON_API_URL (a ws agent's default is its server). */
  addAgent(options?: { concurrency?: number; tasks?: AnyTaskDefinition[]; apiUrl?: string }): Promise<Agent>;
  /** As the admin, unless `headers` carry their own `authorization`. */
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Any method, with exactly the headers given (no admin token unless given). */
  request(
    method: string,
    path: string,
    options?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  /** Polls a job until `done(job)` holds. */
  waitFor(id: string, done: (job: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export interface HarnessOptions extends ServerOptions {
  /** The server's logger (default: warnings to stdout). */
  logger?: Logger;
  agents?: number;
  concurrency?: number;
  backend?: HarnessBackend;
  link?: HarnessLink;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const { backend = 'sqlite', link = 'local', ...serverOptions } = options;
  const { store, drop } = await freshStore(backend);
  const server = createBatonServer(store, {
    maxSweepMs: 200,
    adminToken: TEST_ADMIN_TOKEN,
    ...(link === 'ws' && { agentToken: TEST_AGENT_TOKEN }),
    ...serverOptions,
  });
  const url = await server.listen(0);
  // Known even before an agent joins, so tests can queue work for agents added later.
  await store.registerTasks(demoTasks.map((t) => ({ task: t.name, queue: t.queue })));
  const agents: Agent[] = [];
  const addAgent: Harness['addAgent'] = async (o = {}) => {
    const agent = new Agent({
      link: link === 'ws' ? new WsLink({ serverUrl: url, token: TEST_AGENT_TOKEN }) : server.localLink(),
      tasks: [...demoTasks, ...(o.tasks ?? [])],
      concurrency: o.concurrency ?? options.concurrency ?? 4,
      ...(o.apiUrl !== undefined && { apiUrl: o.apiUrl }),
    });
    agents.push(agent);
    await agent.start();
    return agent;
  };
  for (let i = 0; i < (options.agents ?? 1); i++) await addAgent();

  const parse = async (r: Response) => {
    const text = await r.text();
    let body: any = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    return { status: r.status, body, headers: r.headers };
  };
  const request: Harness['request'] = async (method, path, o = {}) =>
    parse(
      await fetch(url + path, {
        method,
        headers: o.body === undefined ? o.headers : { 'content-type': 'application/json', ...o.headers },
        body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
      }),
    );
  const post: Harness['post'] = async (path, body, headers = {}) =>
    request('POST', path, { body, headers: { ...ADMIN, ...headers } });
  const get: Harness['get'] = async (path, headers = {}) => request('GET', path, { headers: { ...ADMIN, ...headers } });
  const waitFor: Harness['waitFor'] = async (id, done, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await get(`/api/jobs/${id}`);
      if (done(body)) return body;
      if (Date.now() > deadline)
        throw new Error(`job ${id} never reached the expected state; last: ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    url,
    store,
    server,
    agents,
    addAgent,
    post,
    get,
    request,
    waitFor,
    async close() {
      try {
        await Promise.all(agents.map((a) => a.stop(1000)));
        await server.close();
        await store.close();
      } finally {
        await drop();
      }
    },
  };
}

export const isFinal = (job: { state: string }) => FINAL_STATES.has(job.state as JobState);

/** A task whose jobs block until released, to hold a job in `running`. */
export function gateTask(name = 'test.gate') {
  const started: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const aborted: string[] = [];
  const task = defineTask(name, async (_payload: unknown, ctx) => {
    started.push(ctx.job.id);
    ctx.signal.addEventListener('abort', () => aborted.push(ctx.job.id));
    await Promise.race([
      gate,
      new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
    ]);
    return { released: true };
  });
  return { task, started, aborted, release: () => release() };
}
