import type { Command } from 'commander';
import type { AgentView } from '@baton/client';
import { listText, table } from '../format.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

/** `1/4 (+1 unhealthy)`: GPUs held by jobs of all the agent's GPUs; `-` for a CPU-only agent. */
function gpusText(agent: AgentView): string {
  if (agent.gpus.length === 0) return '-';
  const used = agent.gpus.filter((g) => g.jobId !== null).length;
  const unhealthy = agent.gpus.filter((g) => !g.healthy).length;
  return `${used}/${agent.gpus.length}${unhealthy > 0 ? ` (+${unhealthy} unhealthy)` : ''}`;
}

export function registerAgentsCommand(program: Command): void {
  withConnection(program.command('agents').description('list the agents the server knows')).action(
    async (flags: ConnectionOptions) => {
      const agents = await api(clientFor(flags).agents());
      if (flags.json) return printJson({ agents });
      if (agents.length === 0) {
        process.stdout.write('no agents\n');
        return;
      }
      const rows = agents.map((a) => [
        a.name,
        a.pool,
        a.state,
        `${a.used}/${a.slots}`,
        gpusText(a),
        listText(a.tags),
        listText(a.queues),
      ]);
      process.stdout.write(`${table(['NAME', 'POOL', 'STATE', 'SLOTS', 'GPUS', 'TAGS', 'QUEUES'], rows)}\n`);
    },
  );
}
