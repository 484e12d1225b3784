import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BatonError } from '@baton/core';
import type { Authenticator } from '../auth/authenticator.js';
import { actingFor } from '../auth/authenticator.js';
import type { Principal } from '../auth/principal.js';
import { isAdmin, isViewer, maySeeAll } from '../auth/principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request acts as (set for every `/api/*` request). */
    principal: Principal;
    /** The owner of what it submits: the principal, or the user an admin acts for (`X-Baton-User`). */
    owner: string;
  }
}

/**
 * Every `/api/*` request is authenticated before its body is read: no token, a bad one, or an
 * address that sent too many bad ones is refused here (401, 429). `/healthz` and `/readyz`
 * stay open for probes, and `/metrics` for the in-cluster scraper (it refuses proxied requests
 * itself: metrics/metrics-route.ts). An unknown `/api` path is a 401 too, so routes cannot be mapped
 * without a token. The one exception, `POST /api/workflows/:id/steps`, is authorized by the
 * lease token its body carries: it acts as no user.
 *
 * A viewer's token is refused every request that is not a read (GET, HEAD) here, before any
 * route runs, so no route can forget to: a viewer changes nothing, not even their own tokens.
 */
export function installAuthentication(app: FastifyInstance, auth: Authenticator): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('owner', '');
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/api/') && request.url !== '/api') return;
    // A route whose body carries its own credential (a step's lease: workflow-steps-route.ts).
    if (request.routeOptions.config.credential === 'lease') return;
    const principal = await auth.authenticate(request.headers, request.ip);
    const actingAs = actingFor(request.headers);
    if (actingAs !== undefined && actingAs !== principal.name && !isAdmin(principal)) {
      throw new BatonError('FORBIDDEN', 'only an admin may act for another user (X-Baton-User)', 403);
    }
    if (isViewer(principal) && request.method !== 'GET' && request.method !== 'HEAD') {
      throw new BatonError('FORBIDDEN', 'a viewer token changes nothing', 403);
    }
    request.principal = principal;
    request.owner = actingAs ?? principal.name;
  });
}

/** Refuses (403) a request that is not an admin's. */
export function requireAdmin(request: FastifyRequest): void {
  if (!isAdmin(request.principal)) throw new BatonError('FORBIDDEN', 'this needs an admin token', 403);
}

/** Refuses (403) a read that is neither an admin's nor a viewer's. */
export function requireSeeAll(request: FastifyRequest): void {
  if (!maySeeAll(request.principal)) throw new BatonError('FORBIDDEN', 'this needs an admin or viewer token', 403);
}

/** Refuses (403) a read that is neither an admin's or viewer's nor user `name`'s own. */
export function requireSelfOrSeeAll(request: FastifyRequest, name: string): void {
  if (!maySeeAll(request.principal) && request.principal.name !== name) {
    throw new BatonError('FORBIDDEN', `only ${name}, an admin or a viewer may see this`, 403);
  }
}

/** Refuses (403) a request that is neither an admin's nor user `name`'s own. */
export function requireSelfOrAdmin(request: FastifyRequest, name: string): void {
  if (!isAdmin(request.principal) && request.principal.name !== name) {
    throw new BatonError('FORBIDDEN', `only ${name} or an admin may do this`, 403);
  }
}
