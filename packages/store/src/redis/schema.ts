import { SchemaTooNewError } from '@baton/core';
import type { RedisContext } from './context.js';
import { idOfMember, resourcesOf } from './job-hash.js';
import { AFTER_SEP, OWNER_GPUS, OWNER_LEASED, OWNER_UNITS, SEP } from './keys.js';

/**
 * The key layout this code writes; a store marked with a newer one is refused. 2 added
 * `{p}:finished` (final jobs by finish time, for retention); 3 added each owner's job counts,
 * `{p}:owner:<owner>` (scripts/lib/owners.lua), with users, tokens and quotas; 4 added fair
 * share's keys: "units" in the owners' counts, `{p}:leasedowners`, each queue's queued jobs per
 * owner (`{p}:ownerqueued:<queue>\0<owner>`, `{p}:queuedowners:<queue>`) and `{p}:usage`; 5
 * added workflows (scripts/lib/workflow.lua): their keys, the `blocked` and `skipped` states,
 * and step jobs that never enter `{p}:finished`. An older store is upgraded at init: a version 1
 * store's final jobs are indexed, then a version 1 to 3 store's owners counted and their queued
 * jobs indexed (`{p}:usage` starts empty); a version 4 store has no workflow, so it is only
 * marked. The mark is what matters there: a server of version 4 refuses the store, instead of
 * finishing steps without advancing their workflows (or letting retention delete them).
 */
export const SCHEMA_VERSION = 5;
const FINAL_STATES = ['succeeded', 'failed', 'cancelled', 'skipped'] as const;
/** Jobs read per round trip when upgrading. */
const UPGRADE_PAGE = 1000;
/** How long the upgrade lock lives unless renewed (it is, every page). */
const UPGRADE_LOCK_MS = 30_000;
/** How often a server waiting on another's upgrade looks again. */
const UPGRADE_POLL_MS = 100;

/** Marks a new store with the layout, refuses a newer one, upgrades an older one. */
export async function openLayout(ctx: RedisContext): Promise<void> {
  await ctx.client.set(ctx.keys.schema, String(SCHEMA_VERSION), 'NX');
  const found = Number(await ctx.client.get(ctx.keys.schema));
  if (found > SCHEMA_VERSION) throw new SchemaTooNewError(found, SCHEMA_VERSION);
  if (found < SCHEMA_VERSION) await upgrade(ctx);
}

/**
 * Upgrades an older store. Counting owners is not idempotent against jobs moving meanwhile (a
 * server done upgrading would move jobs while another still counts), so one server upgrades,
 * holding `{p}:upgrading`, and the others wait until the layout is marked new. A holder that
 * died lets its lock lapse and another server starts over: every step writes absolute values.
 * Jobs that older servers move during or after the upgrade are not counted: upgrade every
 * server together.
 */
async function upgrade(ctx: RedisContext): Promise<void> {
  const k = ctx.keys;
  const current = async (): Promise<number> => Number(await ctx.client.get(k.schema));
  for (;;) {
    if (await ctx.client.set(k.upgradeLock, '1', 'PX', UPGRADE_LOCK_MS, 'NX')) {
      try {
        const found = await current();
        if (found >= SCHEMA_VERSION) return;
        if (found < 2) await indexFinished(ctx);
        if (found < 4) await indexOwners(ctx);
        await ctx.client.set(k.schema, String(SCHEMA_VERSION));
        return;
      } finally {
        await ctx.client.del(k.upgradeLock);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, UPGRADE_POLL_MS));
    if ((await current()) >= SCHEMA_VERSION) return;
  }
}

/**
 * Indexes a version 1 store's final jobs in `{p}:finished`, in pages (never one long script).
 * Idempotent.
 */
async function indexFinished(ctx: RedisContext): Promise<void> {
  const k = ctx.keys;
  for (const state of FINAL_STATES) {
    let min = `[${state}${SEP}`;
    const max = `(${state}${AFTER_SEP}`;
    for (;;) {
      const members = await ctx.client.zrangebylex(k.byState, min, max, 'LIMIT', 0, UPGRADE_PAGE);
      if (members.length === 0) break;
      const ids = members.map(idOfMember);
      const times = await ctx.batch((p) => {
        for (const id of ids) p.hget(k.job(id), 'finished_at');
      });
      const entries = ids.flatMap((id, i) => (times[i] == null ? [] : [String(times[i]), id]));
      if (entries.length > 0) await ctx.client.zadd(k.finished, ...entries);
      if (members.length < UPGRADE_PAGE) break;
      min = `(${members[members.length - 1]!}`;
    }
  }
}

/**
 * Counts a version 1 to 3 store's jobs per owner (scripts/lib/owners.lua's fields and
 * `{p}:leasedowners`) and indexes their queued jobs per queue and owner (lib/job.lua), reading
 * every job from `{p}:all` in pages and renewing the upgrade lock each page. A rerun after a
 * crash writes the same: the queued indexes are emptied first, and each owner's hash is
 * written whole (DEL and HSET in one MULTI).
 */
async function indexOwners(ctx: RedisContext): Promise<void> {
  const k = ctx.keys;
  await dropOwnerQueues(ctx);
  const owners = new Map<string, Map<string, number>>();
  const add = (owner: string, field: string, n: number): void => {
    let fields = owners.get(owner);
    if (!fields) owners.set(owner, (fields = new Map()));
    fields.set(field, (fields.get(field) ?? 0) + n);
  };
  let min = '-';
  for (;;) {
    const ids = await ctx.client.zrangebylex(k.all, min, '+', 'LIMIT', 0, UPGRADE_PAGE);
    if (ids.length === 0) break;
    const jobs = (await ctx.batch((p) => {
      for (const id of ids) p.hmget(k.job(id), 'owner', 'queue', 'state', 'resources', 'qmember');
    })) as (string | null)[][];
    const queued = ctx.client.pipeline();
    for (const [owner, queue, state, resources, qmember] of jobs) {
      if (owner == null || queue == null || state == null) continue;
      add(owner, `${queue}${SEP}${state}`, 1);
      if (state === 'assigned' || state === 'running') {
        const { gpus, slots } = resourcesOf(resources ?? undefined);
        add(owner, OWNER_LEASED, 1);
        add(owner, OWNER_GPUS, gpus);
        add(owner, OWNER_UNITS, gpus > 0 ? gpus : slots);
      } else if (state === 'queued' && qmember != null) {
        queued.zadd(k.ownerQueued(queue, owner), 0, qmember);
        queued.sadd(k.queuedOwners(queue), owner);
      }
    }
    queued.pexpire(k.upgradeLock, UPGRADE_LOCK_MS);
    await queued.exec();
    if (ids.length < UPGRADE_PAGE) break;
    min = `(${ids[ids.length - 1]!}`;
  }
  const entries = [...owners];
  await ctx.client.del(k.leasedOwners);
  for (let from = 0; from < entries.length; from += UPGRADE_PAGE) {
    const multi = ctx.client.multi();
    for (const [owner, fields] of entries.slice(from, from + UPGRADE_PAGE)) {
      multi.del(k.owner(owner));
      // Zero fields are left out, as the scripts delete them (an owner without leased GPUs).
      const flat = [...fields].flatMap(([field, n]) => (n === 0 ? [] : [field, String(n)]));
      if (flat.length > 0) multi.hset(k.owner(owner), ...flat);
      if ((fields.get(OWNER_LEASED) ?? 0) > 0) multi.sadd(k.leasedOwners, owner);
    }
    await multi.exec();
  }
}

/** Empties the per-owner queued indexes an interrupted upgrade may have left half built. */
async function dropOwnerQueues(ctx: RedisContext): Promise<void> {
  const k = ctx.keys;
  for (const queue of await ctx.client.smembers(k.queues)) {
    const owners = await ctx.client.smembers(k.queuedOwners(queue));
    const keys = [...owners.map((owner) => k.ownerQueued(queue, owner)), k.queuedOwners(queue)];
    for (let from = 0; from < keys.length; from += UPGRADE_PAGE) {
      await ctx.client.del(...keys.slice(from, from + UPGRADE_PAGE));
    }
  }
}
