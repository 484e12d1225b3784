import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import type { StoreEvent } from '../contract.js';
import type { RedisKeys } from './keys.js';
import type { ScriptName } from './scripts.js';
import { callScript } from './scripts.js';

/** Jobs one batch script call carries at most; a larger batch is several calls in one pipeline. */
const SCRIPT_BATCH = 500;

/**
 * What the Redis store's domain modules (jobs, scheduling, leases, listing, logs, retention)
 * share: the client and key names, the store's clock and random source, the events' way out,
 * and the three ways to send commands (a pipeline, a batch script, a script per job).
 */
export interface RedisContext {
  client: Redis | Cluster;
  keys: RedisKeys;
  clock: () => number;
  random: () => number;
  logTailBytes: number;
  /** Tells local listeners now, and other processes through pub/sub (fire and forget). */
  emit(event: StoreEvent): void;
  /** Runs commands as one pipeline (one round trip); throws the first command error. */
  batch(build: (p: ChainableCommander) => void): Promise<unknown[]>;
  /**
   * A batch script over many jobs: one call of `head` then each item's arguments, at most
   * SCRIPT_BATCH items a call (so one call never holds the server long), the calls sent as one
   * pipeline. Each call is atomic, so each job's transition is. Returns the calls' replies,
   * concatenated (each script returns a flat list, so many values per item).
   */
  batchScript<T>(
    items: readonly T[],
    name: ScriptName,
    keys: readonly string[],
    head: readonly (string | number)[],
    each: (item: T, i: number, args: (string | number)[]) => void,
  ): Promise<unknown[]>;
  /** One script call per item, as one pipeline (the sweeps that are not batched: deleteFinished). */
  perJob<T>(
    items: readonly T[],
    name: ScriptName,
    call: (item: T) => { keys: string[]; args: (string | number)[] },
  ): Promise<unknown[]>;
}

export function redisContext(
  client: Redis | Cluster,
  keys: RedisKeys,
  settings: { clock: () => number; random: () => number; logTailBytes: number },
  emit: (event: StoreEvent) => void,
): RedisContext {
  const batch = async (build: (p: ChainableCommander) => void): Promise<unknown[]> => {
    const pipeline = client.pipeline();
    build(pipeline);
    const replies = await pipeline.exec();
    if (!replies) throw new Error('Redis pipeline was discarded');
    return replies.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  };
  return {
    client,
    keys,
    ...settings,
    emit,
    batch,
    async batchScript(items, name, scriptKeys, head, each) {
      if (items.length === 0) return [];
      const calls: (string | number)[][] = [];
      for (let from = 0; from < items.length; from += SCRIPT_BATCH) {
        const args = [...head];
        const to = Math.min(items.length, from + SCRIPT_BATCH);
        for (let i = from; i < to; i++) each(items[i]!, i, args);
        calls.push(args);
      }
      if (calls.length === 1) return (await callScript(client, name, scriptKeys, calls[0]!)) as unknown[];
      const replies = await batch((p) => {
        for (const args of calls) callScript(p, name, scriptKeys, args);
      });
      return (replies as unknown[][]).flat();
    },
    async perJob(items, name, call) {
      if (items.length === 0) return [];
      return batch((p) => {
        for (const item of items) {
          const { keys: jobKeys, args } = call(item);
          callScript(p, name, jobKeys, args);
        }
      });
    },
  };
}
