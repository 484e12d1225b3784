/**
 * Scheduler shards: the backlog is split into a fixed number of shards by queue, and shards are
 * spread over the live schedulers by consistent hashing with bounded loads (Mirrokni, Thorup,
 * Zadimoghaddam 2018): each shard goes to the first scheduler clockwise from its point on the
 * ring that has room, room being ⌈c · shards / schedulers⌉. A scheduler joining or leaving moves
 * few shards, and none holds more than its bound. Pure and deterministic: every scheduler
 * computes the same spread from the same list of live schedulers.
 */

/** Shards of a deployment. Fixed: changing it moves queues between shards. */
export const SHARD_COUNT = 64;

/** Points each scheduler has on the ring; more points even out the spread. */
const VIRTUAL_NODES = 64;

/** 32-bit FNV-1a: stable across processes and versions (never change it). */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The shard a queue's jobs belong to. */
export function shardOfQueue(queue: string, shards = SHARD_COUNT): number {
  return fnv1a(`queue:${queue}`) % shards;
}

/**
 * Which shards each live scheduler should own. `loadFactor` (c ≥ 1) bounds any scheduler's
 * share at ⌈c · shards / n⌉. Returns a map with an entry (possibly empty) per scheduler.
 */
export function spreadShards(
  schedulers: readonly string[],
  shards = SHARD_COUNT,
  loadFactor = 1.25,
): Map<string, number[]> {
  const live = [...new Set(schedulers)].sort();
  const owned = new Map<string, number[]>(live.map((s) => [s, []]));
  if (live.length === 0) return owned;
  const bound = Math.ceil((loadFactor * shards) / live.length);
  const ring = live
    .flatMap((s) => Array.from({ length: VIRTUAL_NODES }, (_, v) => ({ point: fnv1a(`${s}#${v}`), s })))
    .sort((a, b) => a.point - b.point || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0));
  for (let shard = 0; shard < shards; shard++) {
    const point = fnv1a(`shard:${shard}`);
    // First ring position at or after the shard's point (wrapping), then onward until one has room.
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ring[mid]!.point < point) lo = mid + 1;
      else hi = mid;
    }
    for (let k = 0; k < ring.length; k++) {
      const { s } = ring[(lo + k) % ring.length]!;
      const mine = owned.get(s)!;
      if (mine.length < bound) {
        mine.push(shard);
        break;
      }
    }
  }
  return owned;
}
