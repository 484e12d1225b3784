import type { FastifyInstance } from 'fastify';
import type { PoolScaler } from '../scaling/pool-scaler.js';
import { maySeeAll } from '../auth/principal.js';

/**
 * `GET /api/scaling`: per configured pool the agents it has and should have, and why. Anyone
 * signed in may read it (it is what `/api/capacity` shows, decided); the agent ids picked for
 * scale-in are an admin's or viewer's only, as `/api/agents` is.
 */
export function registerScalingRoutes(app: FastifyInstance, deps: { scaler: PoolScaler }): void {
  app.get('/api/scaling', async (request) => {
    const snapshot = await deps.scaler.current();
    if (maySeeAll(request.principal)) return snapshot;
    return { ...snapshot, pools: snapshot.pools.map((p) => ({ ...p, drain: [] })) };
  });
}
