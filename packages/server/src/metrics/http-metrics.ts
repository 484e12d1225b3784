import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { Counter, Histogram } from 'prom-client';
import { HTTP_SECONDS_BUCKETS } from './buckets.js';

/** Methods named in labels; any other (a client's invention) is `OTHER`, so labels stay few. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Counts and times every HTTP request this server answers, labelled by the route's pattern
 * (`/api/jobs/:id`, never the URL) or `unmatched`, so a scan of random paths adds no series.
 * WebSocket upgrades (agents, event streams) do not pass through here.
 */
export function installHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const requests = new Counter({
    name: 'baton_http_requests_total',
    help: 'HTTP requests this server answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'baton_http_request_duration_seconds',
    help: 'Time this server took to answer HTTP requests, by method and route pattern',
    labelNames: ['method', 'route'],
    buckets: HTTP_SECONDS_BUCKETS,
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const method = METHODS.has(request.method) ? request.method : 'OTHER';
    // The not-found handler has no pattern: every unknown path is one label.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method, route, status: String(reply.statusCode) });
    duration.observe({ method, route }, reply.elapsedTime / 1000);
  });
}
