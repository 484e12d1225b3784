import { Agent, defineTask, demoTasks } from '@baton/agent';
import type { AnyTaskDefinition } from '@baton/agent';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { createBatonServer } from '@baton/server';
import type { BatonServer, ServerOptions } from '@baton/server';

/** A real server on a fresh in-memory store, listening on a free loopback port. */
export interface Harness {
  url: string;
  store: Store;
  server: BatonServer;
  agents: Agent[];
  addAgent(options?: { concurrency?: number; tasks?: AnyTaskDefinition[] }): Promise<Agent>;
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  get(path: string): Promise<{ status: number; body: any }>;
  /** Polls a job until `done(job)` holds. */
  waitFor(id: string, done: (job: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export async function startHarness(
  options: ServerOptions & { agents?: number; concurrency?: number } = {},
): Promise<Harness> {
  const store = await openStore('sqlite::memory:');
  const server = createBatonServer(store, { maxSweepMs: 200, ...options });
  const url = await server.listen(0);
  // Known even before an agent joins, so tests can queue work for agents added later.
  await store.registerTasks(demoTasks.map((t) => ({ task: t.name, queue: t.queue })));
  const agents: Agent[] = [];
  const addAgent: Harness['addAgent'] = async (o = {}) => {
    const agent = new Agent({
      link: server.localLink(),
      tasks: [...demoTasks, ...(o.tasks ?? [])],
      concurrency: o.concurrency ?? options.concurrency ?? 4,
    });
    agents.push(agent);
    await agent.start();
    return agent;
  };
  for (let i = 0; i < (options.agents ?? 1); i++) await addAgent();

  const parse = async (r: Response) => {
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
  const post: Harness['post'] = async (path, body, headers = {}) =>
    parse(
      await fetch(url + path, {
        method: 'POST',
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    );
  const get: Harness['get'] = async (path) => parse(await fetch(url + path));
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
    waitFor,
    async close() {
      await Promise.all(agents.map((a) => a.stop(1000)));
      await server.close();
      await store.close();
    },
  };
}

export const isFinal = (job: { state: string }) => ['succeeded', 'failed', 'cancelled'].includes(job.state);

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
