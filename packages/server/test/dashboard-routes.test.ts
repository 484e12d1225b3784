import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '@baton/store';
import { createBatonServer } from '@baton/server';
import { dashboardAssets, loadDashboardAssets } from '../src/dashboard/assets.js';
import { DASHBOARD_PAGES, registerDashboardRoutes } from '../src/dashboard/routes.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-dash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A built dashboard of two files, and a big script so it is worth compressing. */
function fakeBuild(): string {
  const out = join(dir, 'dist');
  mkdirSync(join(out, 'assets'), { recursive: true });
  writeFileSync(
    join(out, 'index.html'),
    '<!doctype html><div id="app"></div><script src="/assets/app-1a2b.js"></script>',
  );
  writeFileSync(join(out, 'assets', 'app-1a2b.js'), `console.log(${JSON.stringify('x'.repeat(5000))});`);
  return out;
}

describe('the dashboard routes', () => {
  it('serves the app at every page path with a strict content security policy', async () => {
    const app = Fastify();
    registerDashboardRoutes(app, loadDashboardAssets(fakeBuild()));
    for (const path of [
      '/',
      '/jobs',
      '/jobs/01JDB5Q2X8W6K7C3V9M4N0P1R2',
      '/workflows/x',
      '/agents',
      '/scaling',
      '/users',
    ]) {
      const r = await app.inject({ url: path });
      expect(r.statusCode, path).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.body).toContain('<div id="app">');
      expect(r.headers['content-security-policy']).toContain("script-src 'self'");
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['cache-control']).toBe('no-cache');
    }
    expect((await app.inject({ url: '/jobs/a/b' })).statusCode).toBe(404);
  });

  it('serves assets from memory: gzip when asked, 304 on a matching ETag, 404 for any other name', async () => {
    const app = Fastify();
    registerDashboardRoutes(app, loadDashboardAssets(fakeBuild()));
    const plain = await app.inject({ url: '/assets/app-1a2b.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toContain('immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    const gz = await app.inject({ url: '/assets/app-1a2b.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).toString()).toBe(plain.body);
    expect(gz.rawPayload.length).toBeLessThan(plain.rawPayload.length / 10);
    const again = await app.inject({
      url: '/assets/app-1a2b.js',
      headers: { 'if-none-match': String(plain.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    // No request path reaches the file system: traversal and unknown names are plain 404s.
    for (const url of ['/assets/../index.html', '/assets/%2e%2e/%2e%2e/package.json', '/assets/nope.js', '/assets/']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(404);
    }
  });

  it('says how to build it when it is not built, leaving the API alone', async () => {
    const app = Fastify();
    registerDashboardRoutes(app, loadDashboardAssets(join(dir, 'missing')));
    const r = await app.inject({ url: '/' });
    expect(r.statusCode).toBe(503);
    expect(r.body).toMatch(/npm ci/);
    expect(loadDashboardAssets(null)).toBeNull();
  });

  it('is part of every server, next to an authenticated API', async () => {
    // The checkout's own build (npm ci builds it before the tests run).
    expect(dashboardAssets()?.has('/index.html')).toBe(true);
    const store = await openStore('sqlite::memory:');
    const server = createBatonServer(store, { adminToken: 'test-admin-token-0123456789' });
    try {
      for (const path of DASHBOARD_PAGES.map((p) => p.replace(':id', '01JDB5Q2X8W6K7C3V9M4N0P1R2'))) {
        const r = await server.app.inject({ url: path });
        expect(r.statusCode, path).toBe(200);
        const script = /src="(\/assets\/[^"]+\.js)"/.exec(r.body)?.[1];
        expect(script).toBeDefined();
        expect((await server.app.inject({ url: script as string })).statusCode).toBe(200);
      }
      // The page is public (it holds no data); the API behind it is not.
      expect((await server.app.inject({ url: '/api/jobs' })).statusCode).toBe(401);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
