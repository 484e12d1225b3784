import type { FastifyInstance } from 'fastify';
import { capacityReport, mergeCapacity } from '../agents/capacity-report.js';
import type { CapacityReport } from '../agents/capacity-report.js';
import { fleetAgentViews, otherReports as reportsOf } from '../agents/fleet-agent-views.js';
import type { Store } from '@baton/store';
import type { AgentGateway } from '../agents/gateway.js';
import type { ShardKeeper } from '../agents/shard-keeper.js';
import { requireSeeAll } from './authentication.js';

export function registerAgentsRoutes(
  app: FastifyInstance,
  deps: { gateway: AgentGateway; store: Store; serverId: string; shards: ShardKeeper | null },
): void {
  const otherReports = async () => reportsOf(deps);

  /**
   * This server's agents, then those other servers of the store report. Admins and viewers only: it names
   * hosts and every job running, whoever's.
   * A viewer may read it too.
   */
  app.get('/api/agents', async (request) => {
    requireSeeAll(request);
    return { agents: await fleetAgentViews(deps) };
  });

  /** The whole fleet's capacity: this server's agents and every other server's report. */
  app.get('/api/capacity', async () => {
    const parts: CapacityReport[] = [capacityReport(deps.gateway.agents())];
    for (const r of await otherReports()) if (r.pools) parts.push(r.pools);
    return { status: 'OK', result: mergeCapacity(parts) };
  });

  /** The scheduler shards: which this server holds, and every live lease in the store. */
  app.get('/api/shards', async (request) => {
    requireSeeAll(request);
    return {
      serverId: deps.serverId,
      owned: deps.shards ? [...deps.shards.owned].sort((a, b) => a - b) : [],
      leases: await deps.store.shardLeases(),
    };
  });
}
