import type { FastifyInstance } from 'fastify';
import { BatonError } from '@baton/core';
import type { ServerMetrics } from './server-metrics.js';

/** Whether a request came through a proxy that said so (`Forwarded`, `X-Forwarded-*`). */
function forwarded(headers: Record<string, unknown>): boolean {
  return Object.keys(headers).some((h) => h === 'forwarded' || h.startsWith('x-forwarded-'));
}

/**
 * `GET /metrics`: Prometheus text for the in-cluster scraper. It takes no token (scrapers
 * reach servers directly); a request that came through a proxy (one carrying a `Forwarded` or
 * `X-Forwarded-*` header) is refused, so an ingress that exposes the API does not expose it.
 */
export function registerMetricsRoute(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get('/metrics', async (request, reply) => {
    if (forwarded(request.headers)) {
      throw new BatonError(
        'FORBIDDEN',
        '/metrics is for a scraper that reaches this server directly; requests through a proxy (Forwarded or X-Forwarded-* headers) are refused',
        403,
      );
    }
    const text = await metrics.text();
    return reply.type(metrics.contentType).send(text);
  });
}
