import http from 'node:http';
import { percentile, round, sortedCopy } from './stats.js';
import { atMost, sleep } from './waits.js';

/**
 * The api workload's load generator, a process of its own (forked by api.ts), so that it does
 * not share the server's event loop. On `go`: `clients` concurrent clients, each sending one
 * `POST /api/jobs` (a small JSON body, `Authorization: Bearer <token>`) after another over a
 * keep-alive connection of its own (node's `http.Agent`), for `warmupS` unmeasured seconds (and
 * until every client has had an answer) and then the `seconds` of the window. Latency = request written → whole answer read, on
 * `process.hrtime` (CLOCK_MONOTONIC).
 *
 * The window's sample is every request answered in it plus every request still unanswered at
 * its end, timed to the end (a stall cannot hide). `accepted` = 2xx answers received in the
 * window. Requests in flight at the end are awaited (up to 30 s) only to count the jobs they
 * made (`accepted_total`) and their errors.
 *
 * Sends `{type:'window', edge:'start'|'end'}` at the window's edges (the parent reads CPU
 * times then) and a {@link LoadReport} at the end.
 *
 * argv: url clients warmupS seconds task; the token comes in BENCH_TOKEN.
 */

export interface LoadReport {
  type: 'report';
  /** The window as measured, ms (the timer may fire late on a busy machine). */
  window_ms: number;
  /** 2xx answers received in the window. */
  accepted: number;
  /** Requests in the sample: answered in the window, or unanswered at its end. */
  samples: number;
  in_flight_at_end: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  /** Over the whole run (warm-up, window, answers after it): requests sent, 2xx answers. */
  sent_total: number;
  accepted_total: number;
  /** Over the whole run: non-2xx answers, failed requests (no answer: reset, refused) and requests never answered. */
  refused: number;
  failed: number;
  unanswered: number;
  errors: number;
  /** Status code → answers over the whole run. */
  statuses: Record<string, number>;
  first_error: string | null;
  /** Connections opened over the whole run (keep-alive: one per client, unless the server closes them). */
  connections: number;
  /** The warm-up as it ran: `warmupS`, or longer until every client had an answer (60 s at most). */
  warmup_ms: number;
  /** The slowest first answer of a client (connection set-up included), from the start. */
  first_answer_max_ms: number;
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

interface Pending {
  sentAt: number;
}

export async function generateLoad(
  url: string,
  opts: { clients: number; warmupS: number; seconds: number; task: string; token: string },
  onEdge: (edge: 'start' | 'end') => void = () => {},
): Promise<LoadReport> {
  const target = new URL('/api/jobs', url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients, maxFreeSockets: opts.clients });
  const pending = new Set<Pending>();
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let stopping = false;
  let accepted = 0;
  let sentTotal = 0;
  let acceptedTotal = 0;
  let refused = 0;
  let failed = 0;
  let firstError: string | null = null;
  let seq = 0;
  let connections = 0;
  const sockets = new WeakSet<object>();

  const one = () =>
    new Promise<void>((resolve) => {
      const body = JSON.stringify({ task: opts.task, payload: { i: seq++ } });
      const record: Pending = { sentAt: 0 };
      let settled = false;
      const finish = (status: number | null, error?: string) => {
        if (settled) return;
        settled = true;
        const at = nowMs();
        pending.delete(record);
        if (status !== null) statuses[status] = (statuses[status] ?? 0) + 1;
        const ok = status !== null && status >= 200 && status < 300;
        if (ok) acceptedTotal++;
        else if (status !== null) refused++;
        else failed++;
        if (!ok) firstError ??= error ?? `HTTP ${status}`;
        // Answered within the window (a request cut at the end was sampled there already).
        if (at >= windowStart && at <= windowEnd) {
          latencies.push(at - record.sentAt);
          if (ok) accepted++;
        }
        resolve();
      };
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: {
            authorization: `Bearer ${opts.token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          let text = '';
          res.on('data', (chunk: Buffer) => {
            if (!ok && text.length < 300) text += chunk.toString();
          });
          res.on('end', () => finish(status, ok ? undefined : `HTTP ${status}: ${text.slice(0, 300)}`));
          res.on('error', (err) => finish(null, err.message));
        },
      );
      req.on('error', (err) => finish(null, err.message));
      req.on('socket', (socket) => {
        if (sockets.has(socket)) return;
        sockets.add(socket);
        connections++;
      });
      record.sentAt = nowMs();
      pending.add(record);
      sentTotal++;
      req.end(body);
    });

  // The warm-up lasts `warmupS` and at least until every client has had its first answer (its
  // connection's set-up included; the slowest is `first_answer_max_ms`), so the window starts warm.
  const goAt = nowMs();
  let firstAnswerMax = 0;
  let firstAnswers = 0;
  let allAnswered: () => void = () => {};
  const warm = new Promise<void>((resolve) => (allAnswered = resolve));
  const client = async () => {
    await one();
    firstAnswerMax = Math.max(firstAnswerMax, nowMs() - goAt);
    if (++firstAnswers === opts.clients) allAnswered();
    while (!stopping) await one();
  };
  const loops = Array.from({ length: opts.clients }, client);
  await Promise.all([sleep(opts.warmupS * 1000), atMost(warm, 60_000)]);
  const warmupMs = nowMs() - goAt;
  windowStart = nowMs();
  onEdge('start');
  await sleep(opts.seconds * 1000);
  windowEnd = nowMs();
  stopping = true;
  // Everything unanswered now counts, with the end as its finish.
  const inFlightAtEnd = pending.size;
  for (const p of pending) latencies.push(windowEnd - p.sentAt);
  onEdge('end');
  const drained = Promise.all(loops);
  await Promise.race([drained, sleep(30_000)]);
  const unanswered = pending.size;
  agent.destroy();

  const sorted = sortedCopy(latencies);
  const max = sorted.length ? (sorted[sorted.length - 1] as number) : null;
  return {
    type: 'report',
    window_ms: round(windowEnd - windowStart) as number,
    accepted,
    samples: sorted.length,
    in_flight_at_end: inFlightAtEnd,
    p50_ms: round(percentile(sorted, 50)),
    p95_ms: round(percentile(sorted, 95)),
    p99_ms: round(percentile(sorted, 99)),
    max_ms: round(max),
    sent_total: sentTotal,
    accepted_total: acceptedTotal,
    refused,
    failed,
    unanswered,
    errors: refused + failed + unanswered,
    statuses,
    first_error: firstError,
    connections,
    warmup_ms: round(warmupMs) as number,
    first_answer_max_ms: round(firstAnswerMax) as number,
  };
}

// Run only as the forked child.
if (process.send && process.argv[1]?.endsWith('api-load.js')) {
  const [url, clients, warmupS, seconds, task] = process.argv.slice(2);
  process.on('message', (m: { type?: string }) => {
    if (m.type !== 'go') return;
    generateLoad(
      url as string,
      {
        clients: Number(clients),
        warmupS: Number(warmupS),
        seconds: Number(seconds),
        task: task as string,
        token: process.env.BENCH_TOKEN ?? '',
      },
      (edge) => process.send?.({ type: 'window', edge }),
    ).then(
      (report) => process.send?.(report, undefined, {}, () => process.exit(0)),
      (err: unknown) => process.send?.({ type: 'error', error: String(err) }, undefined, {}, () => process.exit(1)),
    );
  });
  process.send({ type: 'ready' });
}
