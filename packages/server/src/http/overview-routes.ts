import type { FastifyInstance } from 'fastify';
import { maySeeAll } from '../auth/principal.js';
import type { OverviewHistory } from '../overview/overview-history.js';
import type { AttentionDeps } from '../overview/attention.js';
import { attentionOf } from '../overview/attention.js';
import { requireSeeAll } from './authentication.js';

/**
 * The dashboard's overview: `GET /api/overview/history` (this server's samples of the store's
 * counts; admins and viewers: it is everyone's work) and `GET /api/attention` (anyone; a user's
 * counts and job ids are their own, and the fleet's GPU list is left empty for them).
 */
export function registerOverviewRoutes(
  app: FastifyInstance,
  deps: { history: OverviewHistory; attention: AttentionDeps },
): void {
  app.get('/api/overview/history', async (request) => {
    requireSeeAll(request);
    return deps.history.history();
  });

  app.get('/api/attention', async (request) =>
    attentionOf(deps.attention, maySeeAll(request.principal) ? null : request.principal.name),
  );
}
