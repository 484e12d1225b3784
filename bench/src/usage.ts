import { POLICY_NAMES } from './packing/policies.js';
import { DEFAULT_SEED } from './scheduler.js';

/** The workloads `npm run bench` knows, and its usage text. */
export const WORKLOADS = [
  'throughput',
  'latency',
  'api',
  'packing',
  'failover',
  'scheduler',
  'workflows',
  'autoscale',
  'events',
  'standard',
] as const;
export type Workload = (typeof WORKLOADS)[number];

export const USAGE = `usage: npm run bench -- WORKLOAD [flags]
workloads: ${WORKLOADS.join(', ')}

throughput   N no-op jobs submitted in bulk (1 000 per request), then drained by one agent
  --store URL         store URL (default: a fresh SQLite file in a temp folder; sqlite::memory: works too)
  --agent MODE        in-process (an agent in the server's process) or remote (a baton agent process over
                      WebSocket); default remote on postgres:// and redis:// stores, in-process on SQLite
  --jobs N            jobs per run (default 20000)
  --concurrency C     the agent's concurrency (default 50)
  --chunk K           jobs per bulk request (default and most: 1000)
  --repeat K          runs, one JSON line each (default 1)
  --timeout-s T       limit per run in seconds (default 300)
  --no-auth           serve the API without tokens (to measure what authentication costs)

latency      single jobs submitted at R/s for S s while one agent runs them; pickup = start − submit
  --store URL         as above
  --agent MODE        as above
  --rate R            submissions per second (default 200)
  --seconds S         how long to submit (default 10)
  --concurrency C     the agent's concurrency (default 10)
  --repeat K          runs, one JSON line each (default 1)
  --no-auth           serve the API without tokens

api          C clients (keep-alive HTTP, a process of their own) each sending single POST /api/jobs
             back-to-back for S s after 1 s of warm-up, to a baton server process (a baton agent
             process runs the jobs); then the same load on the peer, a fastify server wrapping
             BullMQ's queue.add (Redis db 12, a fresh prefix, removed after); a line each
  --store URL         Baton's store (default: a fresh SQLite file in a temp folder; not sqlite::memory:)
  --clients C         concurrent clients (default 100)
  --seconds S         the measured window (default 10)
  --peer P            bullmq (default) or none
  --repeat K          runs, Baton then the peer in each (default 1)

packing      a GPU job trace through a simulated fleet, placed by Baton's place() and by baselines
  --trace FILE        JSONL trace, e.g. ../shared/traces/gpu-batch-2000.jsonl (or --suite)
  --policy P          ${POLICY_NAMES.join(', ')} or all (default all); one JSON line each
  --ignore-priority   treat every job as priority normal (submit order only)
  --time-limits L     jobs' time limits: none (default), exact (their duration), x2 (twice it) or
                      learned (none given; Baton learns runtimes per user, task and size as jobs end)
  --half-life S       baton-fair: half-life of users' decayed usage, simulated seconds (default 3600)
  --weights W         users' weights for baton-fair and the fairness metric, e.g. u0=2,u1=1 (default all 1)
  --fair-window S     fairness windows, simulated seconds (default 600): Jain's index of GPU-seconds per
                      user over weight in each window in which every user has a job waiting throughout
  --repeat K          runs (default 1)
  --suite             instead of --trace: the 15 generated traces of the suite (five fleet shapes, batch
                      and online at loads 0.85 and 0.97), each with priorities ignored and honoured, under
                      no limits, x2 limits and learned estimates; one table of ratios against the goals
  --only NAMES        suite traces to run, e.g. 10x8-batch,64x2-online-0.97 (default all)
  --priorities P      ignored, honoured or both (default both)
  --write-traces DIR  also write the suite's traces there as NAME.jsonl

failover     real baton server and agent processes; kill -9 the agent running the most jobs and time
             until each of its jobs runs again on another agent (default settings: 10 s lease)
  --store URL         store URL (default sqlite::memory:)
  --jobs N            long jobs running when the agent dies (default 12)
  --agents A          agent processes (default 3)
  --lease-ms MS       the server's lease (default: its own, 10000)
  --repeat K          runs (default 1)
  --timeout-s T       limit per run in seconds (default 300)

scheduler    one placement pass of place() over a synthetic fleet and backlog (seeded; far more
             work than room, so most jobs stay pending): median of 5 calls after a warm-up
  --agents A          agents (default 1000)
  --jobs N            pending jobs (default 100000)
  --seed S            seed of the fleet and backlog (default ${DEFAULT_SEED})
  --scaling           run 100 × 10k, 1 000 × 100k and 10 000 × 1M (agents × jobs) instead,
                      one line each; a size that would not fit the heap or ~1 min is skipped
  --repeat K          runs (default 1)

workflows    W workflows of S no-op steps (a root, S − 2 steps that need it, a join) against W × S plain
             jobs on the same store and agent, submitted alike (S per request, 20 requests in flight)
             and in 1 000-job requests; then one workflow of F steps fanned out the same way
  --store URL         as for throughput
  --workflows W       workflows (default 1000)
  --steps S           steps per workflow (default 10)
  --fan-out F         steps of the wide workflow (default 10000; 0 skips it)
  --concurrency C     the agent's concurrency (default 50)
  --repeat K          runs (default 1)
  --timeout-s T       limit per run in seconds (default 300)

autoscale    baton dev --autoscale with one pool at zero; a burst of N jobs on its queue; the pool's
             agents sampled until it is back at zero: first agent, peak, total, agent-seconds
  --jobs N            jobs of the burst (default 2000)
  --job-ms MS         each job's run time (default 1000)
  --max A             the pool's max agents (default 10)
  --slots S           slots per agent (default 8)
  --cooldown-s C      the pool's scale-to-zero cooldown (default 30)
  --sync-s Y          scaling.syncSeconds (default 5)
  --repeat K          runs (default 1)
  --timeout-s T       limit per run in seconds (default 300)

events       C clients on the event stream (GET /api/events, admin token) while single no-op jobs
             flow at R/s through a baton server process and a baton agent process; marker jobs,
             each to a queue of its own, time the enqueued events' delivery; server CPU from /proc,
             with the clients and in a baseline phase without them
  --store URL         store URL (default: a fresh SQLite file in a temp folder; not sqlite::memory:)
  --clients C         event-stream clients (default 100; 0: no clients, no baseline phase)
  --rate R            flow submissions per second (default 1000)
  --seconds S         how long the flow runs, per phase (default 10)
  --marker-rate M     marker submissions per second beside the flow (default 20)
  --concurrency C     the agent's slots (default 50)
  --max-in-flight K   flow submissions awaiting their answer at most (default 500)
  --no-baseline       skip the phase without clients
  --repeat K          runs (default 1)
  --timeout-s T       limit per run in seconds (default 300)

standard     the standard points, throughput N=20000 C=50 and latency 1 000/s for 10 s, on each backend
             (SQLite temp file, PostgreSQL in a fresh schema, Redis under a fresh prefix, removed after),
             each compared with bench/baseline.json: one JSON line per point with FIGURE_baseline and
             FIGURE_ratio (> 1 is better: now/baseline for _per_s, baseline/now for _ms); a ratio below
             0.8 is a warning. A service not reachable is skipped; exit code 1 if nothing ran
  --postgres URL      PostgreSQL server and database (default postgres://root@127.0.0.1:5432/test)
  --redis URL         Redis server and database (default redis://127.0.0.1:6379/12)
  --only LIST         backends to run, of sqlite,postgres,redis (default all)
  --agent MODE        every point's agent (default: in-process on SQLite, remote on the others)
  --baseline FILE     the baseline to compare with or write (default bench/baseline.json)
  --write-baseline    write the measured figures (with the commit and date) to the baseline instead
  --jobs N, --rate R, --seconds S   smaller sizes for a smoke run (ratios then flagged baseline_sizes_differ)
  --timeout-s T       limit per throughput point in seconds (default 300)`;
