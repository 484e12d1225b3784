import type { Store } from '@baton/store';
import { agentJson } from './agent-json.js';
import type { AgentsReport } from './capacity-wire.js';
import type { AgentGateway } from './gateway.js';

export interface FleetAgentDeps {
  gateway: AgentGateway;
  store: Store;
  serverId: string;
}

/** What the other servers of the store report of their agents, each with its server's id. */
export async function otherReports(deps: FleetAgentDeps): Promise<(Partial<AgentsReport> & { serverId: string })[]> {
  return (await deps.store.agentReports())
    .filter((r) => r.serverId !== deps.serverId)
    .map((r) => ({ serverId: r.serverId, ...(r.report as Partial<AgentsReport>) }));
}

/** Every agent of the fleet as `GET /api/agents` shows it: this server's, then the others' reports. */
export async function fleetAgentViews(deps: FleetAgentDeps): Promise<Record<string, unknown>[]> {
  const local = deps.gateway.agents().map((a) => ({ ...agentJson(a), serverId: deps.serverId }));
  const remote = (await otherReports(deps)).flatMap((r) =>
    (r.views ?? []).map((v) => ({ ...v, serverId: r.serverId })),
  );
  return [...local, ...remote];
}
