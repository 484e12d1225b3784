import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Asset } from './assets.js';
import { dashboardAssets } from './assets.js';

/** The dashboard's pages: each answers with the app, which draws the page from the path. */
export const DASHBOARD_PAGES = [
  '/',
  '/jobs',
  '/jobs/:id',
  '/workflows',
  '/workflows/:id',
  '/agents',
  '/scaling',
  '/users',
];

/**
 * What the browser may do with the app: scripts and styles only from this server (uPlot sets
 * inline styles on its canvas, hence 'unsafe-inline' for styles alone), network only to it
 * (the API and the event WebSocket), and no framing (clickjacking).
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * Serves the dashboard at `/` from memory. The pages need no token (they hold no data; the app
 * signs in and reads everything through the authenticated API). Without a built dashboard the
 * pages say how to build it, and the API is unaffected.
 */
export function registerDashboardRoutes(app: FastifyInstance, given?: Map<string, Asset> | null): void {
  // Read on the first page asked for, not at start-up: most servers (tests, headless fleets)
  // never serve one.
  const assets = (): Map<string, Asset> | null => (given === undefined ? dashboardAssets() : given);
  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    const index = assets()?.get('/index.html');
    if (!index) {
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built. Run `npm ci` (or `npm run build`) in the Baton checkout, then restart.\n');
    }
    // The page must be read again on each visit so a new release's asset names are picked up.
    return send(request, reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache'), index);
  };
  for (const path of DASHBOARD_PAGES) app.get(path, page);

  app.get('/assets/*', async (request, reply) => {
    const asset = assets()?.get(request.url.split('?')[0] ?? '');
    if (!asset) return reply.status(404).type('text/plain; charset=utf-8').send('not found\n');
    // Names carry a content hash (Vite): a name never changes content, so it may be kept a year.
    return send(request, reply.header('cache-control', 'public, max-age=31536000, immutable'), asset);
  });
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset) {
  reply.header('etag', asset.etag).header('vary', 'accept-encoding').type(asset.type);
  if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
  const accepts = String(request.headers['accept-encoding'] ?? '');
  if (asset.gzip && /\bgzip\b/.test(accepts)) return reply.header('content-encoding', 'gzip').send(asset.gzip);
  return reply.send(asset.body);
}
