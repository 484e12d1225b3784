import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from './harness.js';
import { startHarness } from './harness.js';
import type { FuzzRequest } from './api-fuzz-requests.js';
import { generate, prng } from './api-fuzz-requests.js';

/**
 * Seeded hostile requests against every endpoint: wrong methods, content types, odd headers,
 * bad UTF-8, deep, huge and malformed JSON, out-of-range fields, control characters. Whatever
 * comes, the server answers below 500, keeps serving, and stores a job only for a 2xx
 * submission. `BATON_FUZZ_SEED` replays another seed; `BATON_FUZZ_REQUESTS` sizes the run.
 */

const SEED = Number(process.env.BATON_FUZZ_SEED ?? 0xba7011);
const REQUESTS = Number(process.env.BATON_FUZZ_REQUESTS ?? 2500);

interface FuzzResponse {
  status?: number;
  body?: string;
  error?: string;
}

function send(base: URL, req: FuzzRequest): Promise<FuzzResponse> {
  if (req.raw) return sendRaw(base, req.raw);
  return new Promise((resolve) => {
    const r = httpRequest(
      // A connection per request: a reused one the server has just closed would read as a reset.
      { host: base.hostname, port: base.port, method: req.method, path: req.path, headers: req.headers, agent: false },
      (res) => {
        if (req.follow) {
          resolve({ status: res.statusCode });
          // Hang up on the stream at once, as a follower that goes away does.
          res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on('error', () => resolve({ status: res.statusCode }));
      },
    );
    r.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    r.setTimeout(10_000, () => r.destroy(new Error('no answer within 10 s')));
    r.end(req.body);
  });
}

/** Writes raw bytes and reads the status line of whatever answer comes before the close. */
function sendRaw(base: URL, bytes: Buffer): Promise<FuzzResponse> {
  return new Promise((resolve) => {
    const socket = connect(Number(base.port), base.hostname);
    let text = '';
    const done = () => {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve(status ? { status: Number(status), body: text } : { error: 'closed without an answer' });
    };
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', done);
    socket.end(bytes);
  });
}

async function storedJobIds(h: Harness): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await h.store.listJobs({ limit: 500, ...(cursor && { cursor }) });
    for (const job of page.jobs) ids.add(job.id);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

const describeRequest = (req: FuzzRequest) =>
  `${req.method} ${req.path.slice(0, 200)} ${JSON.stringify(req.headers)} ${
    req.raw ? JSON.stringify(req.raw.toString('latin1').slice(0, 200)) : (req.body?.toString().slice(0, 200) ?? '')
  }`;

describe(`API fuzz (seed ${SEED}, ${REQUESTS} requests)`, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ concurrency: 8 });
  });
  afterAll(() => h.close());

  it('answers every hostile request below 500, keeps serving, and stores only what it accepted', async () => {
    const rng = prng(SEED);
    const base = new URL(h.url);
    const before = await storedJobIds(h);
    const accepted = new Set<string>();
    const known: string[] = [];
    const cursors: string[] = [];
    const serverErrors: string[] = [];
    const noAnswer: string[] = [];
    const statuses = new Map<number, number>();

    for (let i = 0; i < REQUESTS; i++) {
      const req = generate(rng, known, cursors);
      const res = await send(base, req);
      if (res.status === undefined) {
        // Only a body the server refused while it was still arriving, or bytes that are no
        // HTTP request, may go unanswered. A HEAD whose URL the server cannot parse is answered
        // as a request of unknown method, with a body its client does not expect.
        const excused =
          (req.raw !== undefined && res.error === 'closed without an answer') ||
          (req.method === 'HEAD' && /^HPE_/.test(res.error ?? '') && /[^\x21-\x7e]/.test(req.path)) ||
          ((req.body?.length ?? 0) > 1024 * 1024 && /ECONNRESET|EPIPE/.test(res.error ?? ''));
        if (!excused) noAnswer.push(`#${i} ${res.error}: ${describeRequest(req)}`);
        continue;
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500)
        serverErrors.push(`#${i} ${res.status} ${res.body?.slice(0, 200)}: ${describeRequest(req)}`);
      if (res.status >= 200 && res.status < 300 && res.body && req.method !== 'HEAD' && !req.follow && !req.raw) {
        let parsed: any;
        try {
          parsed = JSON.parse(res.body);
        } catch {
          continue; // plain-text logs
        }
        const created = req.path === '/api/jobs' ? [parsed] : req.path === '/api/jobs/bulk' ? (parsed.jobs ?? []) : [];
        for (const c of created as { id: string; created: boolean }[]) {
          if (c.created) accepted.add(c.id);
          if (!known.includes(c.id)) known.push(c.id);
        }
        if (typeof parsed.nextCursor === 'string') cursors.push(parsed.nextCursor);
      }
    }

    if (process.env.BATON_FUZZ_VERBOSE) {
      console.log({ statuses: Object.fromEntries(statuses), noAnswer: noAnswer.length, accepted: accepted.size });
      for (const line of noAnswer) console.log(line.slice(0, 300));
    }
    expect(serverErrors, serverErrors.slice(0, 10).join('\n')).toEqual([]);
    expect(noAnswer, noAnswer.slice(0, 10).join('\n')).toEqual([]);
    // The run exercised the endpoints rather than bouncing off one error.
    expect(statuses.get(201) ?? 0).toBeGreaterThan(50);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(200);
    expect(statuses.get(404) ?? 0).toBeGreaterThan(20);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(20);

    // Still serving: health, readiness, a listing and a plain submission.
    expect((await h.get('/healthz')).status).toBe(200);
    expect((await h.get('/readyz')).status).toBe(200);
    expect((await h.get('/api/jobs?limit=500')).status).toBe(200);
    const last = await h.post('/api/jobs', { task: 'demo.echo', payload: { ok: true } });
    expect(last.status).toBe(201);
    accepted.add(last.body.id);

    // Every stored job is one the API said it created; refused requests stored nothing.
    const after = await storedJobIds(h);
    const added = [...after].filter((id) => !before.has(id));
    expect(added.sort()).toEqual([...accepted].sort());
  });
});
