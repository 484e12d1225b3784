import type { Cluster, Redis } from 'ioredis';

/**
 * Deletes every key of a store's prefix (`{prefix}:…`), on each master of a cluster (the
 * prefix is one hash tag, so one slot, but which node holds it is the cluster's business).
 * Returns how many keys it deleted.
 */
export async function dropPrefix(client: Redis | Cluster, prefix: string): Promise<number> {
  const nodes = 'nodes' in client ? client.nodes('master') : [client];
  let deleted = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await node.unlink(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}
