import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

/** One built file of the dashboard, held in memory with its gzip form. */
export interface Asset {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/**
 * The dashboard's built files (`@baton/dashboard`'s dist/, made by `npm ci`), read once at
 * start-up. Serving from a fixed map of known names means no request path ever reaches the file
 * system, so there is no traversal to guard against. A few hundred KiB in all.
 */
export function loadDashboardAssets(dir = defaultDir()): Map<string, Asset> | null {
  if (dir === null) return null;
  const assets = new Map<string, Asset>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const body = readFileSync(path);
        const type = TYPES[extname(name)] ?? 'application/octet-stream';
        const compressible = type.startsWith('text/') || type === 'image/svg+xml' || type === 'application/json';
        const gzip = compressible && body.length > 1024 ? gzipSync(body, { level: 9 }) : null;
        const etag = `"${body.length.toString(36)}-${hash(body)}"`;
        assets.set('/' + relative(dir, path).split(sep).join('/'), { body, gzip, type, etag });
      }
    }
  };
  try {
    walk(dir);
  } catch {
    return null;
  }
  return assets.has('/index.html') ? assets : null;
}

let cached: Map<string, Asset> | null | undefined;

/** The built dashboard, read on first use and kept for the process (every server shares it). */
export function dashboardAssets(): Map<string, Asset> | null {
  if (cached === undefined) cached = loadDashboardAssets();
  return cached;
}

function defaultDir(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('@baton/dashboard/package.json');
    return join(dirname(pkg), 'dist');
  } catch {
    return null;
  }
}

/** FNV-1a over the bytes: an ETag needs to change with the content, not to resist forgery. */
function hash(body: Buffer): string {
  let h = 0x811c9dc5;
  for (const byte of body) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h.toString(36);
}
