import { ADMIN } from './harness.js';

/**
 * The hostile requests of api-fuzz.test.ts, drawn from a seeded PRNG: wrong methods, content
 * types, odd headers, bad UTF-8, deep, huge and malformed JSON, out-of-range fields, control
 * characters, and raw bytes no HTTP client would send.
 */
/** mulberry32: a tiny, fast, seedable PRNG; plenty for picking test inputs. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
export type Rng = ReturnType<typeof prng>;

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  /** A log follow: only the status is read, then the connection is dropped. */
  follow?: boolean;
  /** Sent as raw bytes on a socket, for what an HTTP client refuses to send. */
  raw?: Buffer;
}

const TASKS = ['demo.sleep', 'demo.echo', 'demo.fail'];
const JOB_STATES = ['delayed', 'queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled'];
const CONTROL = [
  '\u0000',
  '\u0001',
  '\u0007',
  '\b',
  '\t',
  '\n',
  '\r',
  '\u001b',
  '\u001b[2J',
  '\u007f',
  '\u0085',
  '\u009b',
];
const ODD_TEXT = [
  '',
  ' ',
  'a',
  'ключ',
  '🔑',
  '\ud800',
  '\udfff',
  '\u202e',
  '\ufeff',
  '%00',
  '../../etc/passwd',
  "'; DROP TABLE jobs; --",
  '${jndi:ldap://x}',
  'x'.repeat(201),
  'x'.repeat(5000),
  ...CONTROL,
];

function oddString(rng: Rng): string {
  if (rng.chance(0.5)) return rng.pick(ODD_TEXT);
  let s = '';
  const n = rng.int(12);
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.7) ? 32 + rng.int(95) : rng.int(0x10000));
  return s;
}

function oddNumber(rng: Rng): number {
  return rng.pick([
    0,
    -0,
    -1,
    1,
    1.5,
    -1e-7,
    2 ** 31,
    2 ** 53 - 1,
    2 ** 53,
    2 ** 53 + 2,
    8.64e15,
    8.64e15 + 1,
    253_402_300_799_999,
    253_402_300_800_000,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    1e21,
    Date.now(),
    Date.now() + 1000,
    rng.int(1_000_000),
  ]);
}

/** JSON text that JSON.stringify cannot produce. */
function oddNumberText(rng: Rng): string {
  return rng.pick(['1e400', '-1e400', '1E+999999', '0.000001e-400', '123456789012345678901234567890', '-0', '1.0']);
}

function nestedText(rng: Rng): string {
  const depth = rng.pick([10, 63, 64, 65, 66, 100, 255, 256, 257, 1_400, 5_000, 100_000]);
  return rng.chance(0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}0${'}'.repeat(depth)}`;
}

function anyValue(rng: Rng, budget = 3): unknown {
  const r = rng.int(9);
  if (budget <= 0 || r < 3) return rng.pick([null, true, false, oddNumber(rng), oddString(rng)]);
  if (r < 5) return Array.from({ length: rng.int(4) }, () => anyValue(rng, budget - 1));
  if (r < 7)
    return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [oddString(rng), anyValue(rng, budget - 1)]));
  if (r < 8) return oddNumber(rng);
  return oddString(rng);
}

function runAt(rng: Rng): unknown {
  return rng.pick([
    oddNumber(rng),
    2 ** 53 - 1,
    8.64e15 + 1,
    Date.now() + rng.int(100_000),
    new Date(Date.now() + rng.int(100_000)).toISOString(),
    '9999-12-31T23:59:59.999Z',
    '9999-12-31T23:59:59-14:00',
    '+275760-09-13T00:00:00.000Z',
    '2024-02-30T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '1969-12-31T23:59:59Z',
    'tomorrow',
    oddString(rng),
  ]);
}

/** A submission: mostly valid, with one or two fields made hostile. */
function submission(rng: Rng): Record<string, unknown> {
  const job: Record<string, unknown> = { task: rng.pick(TASKS) };
  if (rng.chance(0.5)) job.payload = rng.chance(0.7) ? { ms: rng.int(20) } : anyValue(rng);
  if (rng.chance(0.3)) job.priority = rng.pick(['high', 'normal', 'low']);
  if (rng.chance(0.2)) job.idempotencyKey = `k-${rng.int(50)}`;
  if (rng.chance(0.2)) job.delayMs = rng.int(3) * 1000;
  else if (rng.chance(0.15)) job.runAt = runAt(rng);
  const mutations = rng.int(3);
  for (let i = 0; i < mutations; i++) {
    const field = rng.pick([
      'task',
      'queue',
      'payload',
      'priority',
      'priorityLevel',
      'resources',
      'constraints',
      'maxAttempts',
      'backoffMs',
      'timeoutMs',
      'delayMs',
      'runAt',
      'idempotencyKey',
      'unknownField',
      '__proto__',
      'constructor',
    ]);
    if (field === 'runAt') {
      delete job.delayMs;
      job.runAt = runAt(rng);
    } else if (field === 'idempotencyKey') job.idempotencyKey = `${oddString(rng)}${rng.pick(CONTROL)}`;
    else if (field === 'resources')
      job.resources = rng.chance(0.5) ? { slots: oddNumber(rng), gpus: oddNumber(rng) } : anyValue(rng);
    else if (field === 'constraints')
      job.constraints = { tags: [oddString(rng), ...(rng.chance(0.1) ? Array(40).fill('t') : [])] };
    else job[field] = rng.chance(0.5) ? anyValue(rng) : oddNumber(rng);
  }
  return job;
}

/** Body text for a submission, sometimes with JSON a serializer would never write spliced in. */
function submissionText(rng: Rng, job: Record<string, unknown>): string {
  const text = JSON.stringify(job);
  const r = rng.int(10);
  if (r === 0) return text.replace(/^\{/, `{"payload":${nestedText(rng)},`);
  if (r === 1) return text.replace(/^\{/, `{"payload":{"n":${oddNumberText(rng)}},`);
  if (r === 2) return text.replace(/^\{/, `{"runAt":${oddNumberText(rng)},`);
  if (r === 3) return text.replace(/^\{/, '{"__proto__":{"polluted":1},');
  if (r === 4) return text.replace(/^\{/, '{"constructor":{"prototype":{"polluted":1}},');
  return text;
}

/** Malformed JSON and non-JSON bodies. */
function brokenBody(rng: Rng, valid: string): Buffer | string {
  switch (rng.int(12)) {
    case 0:
      return valid.slice(0, rng.int(valid.length));
    case 1:
      return `\ufeff${valid}`;
    case 2:
      return Buffer.concat([Buffer.from(valid.slice(0, -2)), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}')]);
    case 3:
      return Buffer.concat([
        Buffer.from('{"task":"demo.echo","payload":"'),
        Buffer.from([0xed, 0xa0, 0x80, 0xc0, 0xaf]),
        Buffer.from('"}'),
      ]);
    case 4:
      return rng.pick(['null', '1', '"s"', '[]', 'true', '{}', '[{}]', '{"jobs":null}', '{"jobs":{}}']);
    case 5:
      return `${valid}${valid}`;
    case 6:
      return valid.replace(/"/g, "'");
    case 7:
      return Buffer.from([0x00, 0x01, 0x02, 0x7b]);
    case 8:
      return `{"task":"demo.echo","payload":"${'\\u0000\\ud800'.repeat(rng.int(100))}"}`;
    case 9:
      return `{"task":"demo.echo","payload":{${Array.from({ length: 2000 }, (_, i) => `"k${i}":${i}`).join(',')}}}`;
    case 10:
      return `{"task":"demo.echo","payload":"${'x'.repeat(rng.pick([1_000, 1_100_000, 3_000_000]))}"}`;
    default:
      return nestedText(rng);
  }
}

function jobId(rng: Rng, known: string[]): string {
  const r = rng.int(10);
  if (r < 4 && known.length > 0) return rng.pick(known);
  if (r < 6) {
    const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    return Array.from({ length: 26 }, () => alphabet[rng.int(32)]).join('');
  }
  return rng.pick([
    'not-an-id',
    '%00',
    '%1B%5B2J',
    '%FF%FE',
    '%E2%80%AE',
    '%',
    '%ZZ',
    '..',
    'x'.repeat(99),
    '01ARZ3NDEKTSV4RRFFQ69G5FAV%0A',
    encode(oddString(rng)) || 'x',
  ]);
}

/** encodeURIComponent, with unpaired surrogates sent as the bad UTF-8 they would be. */
function encode(text: string): string {
  return text
    .split(/([\ud800-\udfff])/)
    .map((part) => (/^[\ud800-\udfff]$/.test(part) ? '%ED%A0%80' : encodeURIComponent(part)))
    .join('');
}

/** Like encode, but leaves what an HTTP client sends unencoded (latin-1 bytes included). */
const encodeLightly = (text: string) =>
  encode(text).replace(/%([2-9A-F][0-9A-F])/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return c === ' ' || c === '&' || c === '#' || c === '=' || c === '?' ? m : c;
  });

function queryOf(rng: Rng, params: [string, string][]): string {
  if (params.length === 0) return '';
  const enc = rng.chance(0.1) ? encodeLightly : encode;
  return `?${params.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')}`;
}

function listQuery(rng: Rng, cursors: string[]): string {
  const params: [string, string][] = [];
  if (rng.chance(0.5)) params.push(['state', rng.chance(0.7) ? rng.pick(JOB_STATES) : oddString(rng)]);
  if (rng.chance(0.3)) params.push(['queue', rng.chance(0.7) ? 'default' : oddString(rng)]);
  if (rng.chance(0.5))
    params.push([
      'limit',
      rng.pick(['1', '500', '501', '0', '-1', 'abc', '1e400', '0x10', '1.5', ' ', String(oddNumber(rng))]),
    ]);
  if (rng.chance(0.4))
    params.push(['cursor', rng.chance(0.5) && cursors.length > 0 ? rng.pick(cursors) : oddString(rng) || 'x']);
  if (rng.chance(0.1)) params.push([oddString(rng) || 'extra', oddString(rng)]);
  if (rng.chance(0.1)) params.push(['state', 'queued'], ['state', 'failed']);
  return queryOf(rng, params);
}

function logsQuery(rng: Rng): { query: string; follow: boolean } {
  const params: [string, string][] = [];
  let follow = false;
  if (rng.chance(0.3)) {
    const value = rng.pick(['true', '1', 'false', '0', 'yes', '']);
    follow = value === 'true' || value === '1';
    params.push(['follow', value]);
  }
  if (rng.chance(0.4))
    params.push(['after', rng.pick(['0', '1', '-1', 'abc', '1e400', '99999999999999999999', String(oddNumber(rng))])]);
  if (rng.chance(0.4)) params.push(['format', rng.pick(['text', 'json', 'xml', ''])]);
  if (rng.chance(0.3)) params.push(['stream', rng.pick(['stdout', 'stderr', 'both', oddString(rng)])]);
  if (rng.chance(0.1)) params.push([oddString(rng) || 'extra', '1']);
  return { query: queryOf(rng, params), follow };
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/json;;;',
  'application/vnd.api+json',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
];

function oddHeaders(rng: Rng, headers: Record<string, string>): void {
  if (rng.chance(0.15))
    headers['x-baton-user'] = rng.pick(['alice', 'a b', 'a\tb', '', 'x'.repeat(101), '-lead', 'ok.user:1', 'ü']);
  if (rng.chance(0.05)) headers['content-encoding'] = rng.pick(['gzip', 'br', 'identity', 'bogus']);
  if (rng.chance(0.05)) headers.accept = rng.pick(['text/html', '*/*', 'application/msgpack']);
  if (rng.chance(0.03)) headers['x-forwarded-for'] = oddString(rng).replace(/[^\x20-\x7e]/g, '') || '1.2.3.4';
  if (rng.chance(0.03)) headers.expect = '100-continue';
}

/** Requests an HTTP client will not send: bytes that break the request line or the headers. */
function rawRequest(rng: Rng, id: string): Buffer {
  const head = (line: string, extra = '') =>
    Buffer.from(`${line}\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`, 'latin1');
  switch (rng.int(8)) {
    case 0:
      return Buffer.concat([
        Buffer.from('GET /api/jobs/'),
        Buffer.from([0xff, 0xfe, 0x00]),
        Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
      ]);
    case 1:
      return head(`GET /api/jobs/${id} HTTP/1.1`, 'X-Baton-User: \u0085\u00ff\r\n');
    case 2:
      return head('POST /api/jobs HTTP/1.1', 'Content-Type: application/json\r\nContent-Length: -1\r\n');
    case 3:
      return Buffer.from(
        'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
      );
    case 4:
      return Buffer.from('BREW /api/jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    case 5:
      return Buffer.from(
        `POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"tas\r\nZZ\r\nk"}\r\n0\r\n\r\n`,
      );
    case 6:
      return head(`GET /api/jobs?cursor=%1B%5B2J&limit=${'9'.repeat(400)} HTTP/1.1`);
    default:
      return Buffer.from(
        `GET /api/jobs HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
      );
  }
}

export function generate(rng: Rng, known: string[], cursors: string[]): FuzzRequest {
  // Mostly as the admin, so requests reach the routes; some with no token (401, which never
  // slows the address down as bad tokens would).
  const headers: Record<string, string> = rng.chance(0.93) ? { ...ADMIN } : {};
  oddHeaders(rng, headers);
  const id = jobId(rng, known);
  if (rng.chance(0.03)) return { method: 'RAW', path: '(raw)', headers, raw: rawRequest(rng, id) };
  const route = rng.int(20);
  let method = rng.chance(0.1) ? rng.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'GET', 'POST']) : '';
  let path: string;
  let body: Buffer | string | undefined;
  let follow = false;
  const withBody = (text: Buffer | string) => {
    body = rng.chance(0.1) ? brokenBody(rng, text.toString()) : text;
    headers['content-type'] = rng.chance(0.85) ? 'application/json' : rng.pick(CONTENT_TYPES);
  };
  if (route < 6) {
    method ||= 'POST';
    path = '/api/jobs';
    withBody(submissionText(rng, submission(rng)));
  } else if (route < 8) {
    method ||= 'POST';
    path = '/api/jobs/bulk';
    const n = rng.pick([0, 1, 2, 5, 20, 1001]);
    const jobs = Array.from({ length: n }, () =>
      rng.chance(0.8) ? { task: rng.pick(TASKS), payload: { ms: 1 } } : submission(rng),
    );
    withBody(
      rng.chance(0.2)
        ? submissionText(rng, { jobs: rng.chance(0.5) ? jobs : anyValue(rng) })
        : JSON.stringify({ jobs }),
    );
    if (rng.chance(0.1)) body = `{"jobs":[{"task":"demo.echo"},{"task":"demo.echo","payload":${nestedText(rng)}}]}`;
  } else if (route < 11) {
    method ||= 'GET';
    path = `/api/jobs${listQuery(rng, cursors)}`;
  } else if (route < 13) {
    method ||= 'GET';
    path = `/api/jobs/${id}`;
  } else if (route < 14) {
    method ||= 'POST';
    path = `/api/jobs/${id}/cancel`;
    if (rng.chance(0.3)) withBody(rng.chance(0.5) ? '{}' : JSON.stringify(anyValue(rng)));
  } else if (route < 16) {
    method ||= 'GET';
    const q = logsQuery(rng);
    follow = q.follow;
    path = `/api/jobs/${id}/logs${q.query}`;
  } else if (route < 17) {
    // Accounts and quotas: names, token ids and quota bodies of every odd shape.
    const name = rng.pick(['fuzz', 'a b', '', 'x'.repeat(101), '%00', 'ü', 'admin', 'fuzz.user:1']);
    const which = rng.int(5);
    if (which === 0) {
      method ||= 'POST';
      path = '/api/users';
      withBody(
        rng.chance(0.5)
          ? JSON.stringify({
              name,
              role: rng.pick(['user', 'admin', 'root', 1]),
              weight: rng.pick([1, 0, -1, 1e9, 'x']),
            })
          : JSON.stringify(anyValue(rng)),
      );
    } else if (which === 1) {
      method ||= rng.pick(['POST', 'GET']);
      path = `/api/users/${encodeURIComponent(name)}/tokens`;
    } else if (which === 2) {
      method ||= 'DELETE';
      path = `/api/tokens/${rng.pick(['0123456789abcdef', 'zz', '', 'x'.repeat(300)])}`;
    } else {
      method ||= rng.pick(['PUT', 'GET']);
      path = which === 3 ? `/api/users/${encodeURIComponent(name)}/quota` : '/api/quota/default';
      withBody(
        JSON.stringify(
          rng.chance(0.5)
            ? { maxGpus: rng.pick([1, -1, 0.5, null, 'x']), submitRatePerSec: rng.pick([1000, 0, null]) }
            : anyValue(rng),
        ),
      );
    }
  } else {
    method ||= 'GET';
    path = rng.pick([
      '/api/me',
      '/api/users',
      '/api/queues',
      '/api/tasks',
      '/api/agents',
      '/api/capacity',
      '/api/shards',
      '/healthz',
      '/readyz',
      '/api/agents/connect',
      '/api/events',
      '/api/nothing',
      '/',
      '/api',
      '/api/jobs/x/y/z',
      '//api//jobs',
      '/api/jobs/%',
      '/api/%E2%80%AE',
      `/api/${'x'.repeat(3000)}`,
      '/api/jobs/?',
      '/api/queues?x=%00',
    ]);
    if (rng.chance(0.2)) withBody(JSON.stringify(anyValue(rng)));
  }
  if (method === 'GET' || method === 'HEAD') body = rng.chance(0.05) ? (body ?? '{}') : undefined;
  // Framed explicitly: Node's client would send a GET's body unframed, as the next request.
  if (body !== undefined && rng.chance(0.9)) headers['content-length'] = String(Buffer.byteLength(body));
  else if (body !== undefined) headers['transfer-encoding'] = 'chunked';
  return { method, path, headers, body, follow };
}
