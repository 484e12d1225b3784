// Task routes for the Redis store: registerTasks, taskRoutes.
import type { Cluster, Redis } from 'ioredis';
import type { TaskRoute } from '../contract.js';
import type { RedisKeys } from './keys.js';
import { SEP } from './keys.js';

/** Records routes in `{p}:routes` (field `<task>\0<queue>`, value the registration time). */
export async function registerTasks(
  client: Redis | Cluster,
  keys: RedisKeys,
  tasks: TaskRoute[],
  now: number,
): Promise<void> {
  await client.hset(keys.routes, ...tasks.flatMap((t) => [`${t.task}${SEP}${t.queue}`, String(now)]));
}

/** Every route, by task then queue. */
export async function taskRoutes(client: Redis | Cluster, keys: RedisKeys): Promise<TaskRoute[]> {
  const fields = await client.hkeys(keys.routes);
  const routes = fields.map((f) => {
    const at = f.indexOf(SEP);
    return { task: f.slice(0, at), queue: f.slice(at + 1) };
  });
  const key = (r: TaskRoute) => [r.task, r.queue] as const;
  return routes.sort((a, b) => {
    const [at, aq] = key(a);
    const [bt, bq] = key(b);
    return at < bt ? -1 : at > bt ? 1 : aq < bq ? -1 : aq > bq ? 1 : 0;
  });
}
