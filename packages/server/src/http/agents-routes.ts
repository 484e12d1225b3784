import type { FastifyInstance } from 'fastify';
import type { AgentSession } from '../agents/agent-session.js';
import { capacityReport } from '../agents/capacity-report.js';
import type { Store } from '@baton/store';
import type { AgentGateway } from '../agents/gateway.js';
import type { ShardKeeper } from '../agents/shard-keeper.js';

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
/** Undeclared cpu/memory are unlimited inside the server; JSON says null. */
const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

function agentJson(s: AgentSession): Record<string, unknown> {
  const d = s.declaration;
  return {
    id: s.id,
    name: d.name,
    pool: d.pool,
    state: s.state,
    queues: d.queues,
    tasks: [...d.tasks].sort(),
    tags: d.tags,
    slots: d.slots,
    used: s.slotsUsed,
    cpu: finite(d.cpu),
    memoryMb: finite(d.memoryMb),
    gpus: [...s.gpus.values()].map((g) => ({
      index: g.index,
      uuid: g.uuid,
      name: g.name,
      memoryMb: g.memoryMb,
      healthy: g.healthy,
      ...(g.reason !== undefined && { reason: g.reason }),
      jobId: s.gpuHolder(g.index) ?? null,
    })),
    jobs: [...s.held.keys()],
    connectedAt: iso(s.connectedAt),
    lastSeenAt: iso(s.lastSeenAt),
    disconnectedAt: iso(s.disconnectedAt),
  };
}

export function registerAgentsRoutes(
  app: FastifyInstance,
  deps: { gateway: AgentGateway; store: Store; serverId: string; shards: ShardKeeper | null },
): void {
  app.get('/api/agents', async () => ({ agents: deps.gateway.agents().map(agentJson) }));

  app.get('/api/capacity', async () => ({ status: 'OK', result: capacityReport(deps.gateway.agents()) }));

  /** The scheduler shards: which this server holds, and every live lease in the store. */
  app.get('/api/shards', async () => ({
    serverId: deps.serverId,
    owned: deps.shards ? [...deps.shards.owned].sort((a, b) => a - b) : [],
    leases: await deps.store.shardLeases(),
  }));
}
