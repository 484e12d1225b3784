import type pg from 'pg';
import { SchemaTooNewError } from '@baton/core';
import { OWNER_COUNTS_SQL } from './owner-counts.js';
import { OWNER_UNITS_SQL } from './owner-units.js';
import { QUEUE_COUNTS_SQL } from './queue-counts.js';
import { RUNTIME_SAMPLES_SQL } from './sql/runtimes.js';
import { WORKFLOWS_SQL } from './workflow-schema.js';

/** Hash partitions of `jobs`. Part of migration 1's text: never change it, add a migration. */
const JOB_PARTITIONS = 16;

const jobPartitions = Array.from(
  { length: JOB_PARTITIONS },
  (_, i) => `CREATE TABLE jobs_p${i} PARTITION OF jobs FOR VALUES WITH (MODULUS ${JOB_PARTITIONS}, REMAINDER ${i});`,
).join('\n');

/**
 * Append-only, numbered migrations. Never edit one that has shipped: add the next number.
 * Each runs in the migrating transaction with its version record, with `search_path` set to
 * the store's schema, so table names are unqualified.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'jobs (hash partitioned), idempotency keys, attempts, task routes, job logs',
    sql: `
      -- Times are epoch ms from the store's clock, never the database's now().
      -- payload, result and error are json: kept as written, and unlike jsonb they take NUL characters,
      -- which task output may carry. The resource fields, written by Baton, are jsonb.
      CREATE TABLE jobs (
        id               TEXT COLLATE "C" NOT NULL,
        queue            TEXT COLLATE "C" NOT NULL,
        task             TEXT NOT NULL,
        owner            TEXT COLLATE "C" NOT NULL,
        payload          JSON NOT NULL,
        state            TEXT NOT NULL,
        priority         SMALLINT NOT NULL, -- class rank: 0 high, 1 normal, 2 low
        priority_level   INTEGER NOT NULL,
        resources        JSONB NOT NULL,
        constraints      JSONB NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        max_attempts     INTEGER NOT NULL,
        backoff_ms       BIGINT NOT NULL,
        timeout_ms       BIGINT,
        run_at           BIGINT NOT NULL,
        idempotency_key  TEXT,
        progress         DOUBLE PRECISION,
        result           JSON,
        error            JSON,
        agent_id         TEXT,
        gpus             INTEGER[] NOT NULL DEFAULT '{}',
        avoid_agent_id   TEXT,
        lease_token      TEXT,
        lease_expires_at BIGINT,
        assigned_at      BIGINT,
        created_at       BIGINT NOT NULL,
        started_at       BIGINT,
        finished_at      BIGINT,
        updated_at       BIGINT NOT NULL,
        PRIMARY KEY (id)
      ) PARTITION BY HASH (id);
      ${jobPartitions}

      -- Scheduling order of queued jobs, delayed jobs by due time, leased jobs by expiry.
      CREATE INDEX jobs_queued ON jobs (queue, priority, priority_level DESC, id) WHERE state = 'queued';
      CREATE INDEX jobs_delayed ON jobs (run_at) WHERE state = 'delayed';
      CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE state IN ('assigned', 'running');
      -- Listing newest first: by queue, by owner, and by state (one small partial index per
      -- state where jobs rest, so a transition touches at most two of them).
      CREATE INDEX jobs_queue ON jobs (queue, id);
      CREATE INDEX jobs_owner ON jobs (owner, id);
      CREATE INDEX jobs_delayed_by_id ON jobs (id) WHERE state = 'delayed';
      CREATE INDEX jobs_queued_by_id ON jobs (id) WHERE state = 'queued';
      CREATE INDEX jobs_leased_by_id ON jobs (id) WHERE state IN ('assigned', 'running');
      CREATE INDEX jobs_succeeded ON jobs (id) WHERE state = 'succeeded';
      CREATE INDEX jobs_failed ON jobs (id) WHERE state = 'failed';
      CREATE INDEX jobs_cancelled ON jobs (id) WHERE state = 'cancelled';

      -- A unique key on a partitioned table must contain the partition key (id), so
      -- (owner, idempotency_key) is made unique here, claimed in the enqueue statement itself.
      CREATE TABLE job_idempotency (
        owner           TEXT COLLATE "C" NOT NULL,
        idempotency_key TEXT NOT NULL,
        job_id          TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (owner, idempotency_key)
      );

      -- Attempts that ended without ending their job; the latest attempt lives on the job row.
      CREATE TABLE job_attempts (
        job_id      TEXT COLLATE "C" NOT NULL,
        attempt     INTEGER NOT NULL,
        agent_id    TEXT NOT NULL,
        lease_token TEXT NOT NULL,
        assigned_at BIGINT NOT NULL,
        started_at  BIGINT,
        finished_at BIGINT,
        outcome     TEXT NOT NULL,
        error       JSON,
        PRIMARY KEY (job_id, attempt)
      );

      CREATE TABLE task_routes (
        task          TEXT COLLATE "C" NOT NULL,
        queue         TEXT COLLATE "C" NOT NULL,
        registered_at BIGINT NOT NULL,
        PRIMARY KEY (task, queue)
      );

      -- The kept tail of each job's output, and per job the last seq handed out and the bytes
      -- kept, so an append knows whether to trim without summing the tail.
      CREATE TABLE job_logs (
        job_id  TEXT COLLATE "C" NOT NULL,
        seq     BIGINT NOT NULL,
        attempt INTEGER NOT NULL,
        stream  TEXT NOT NULL,
        bytes   INTEGER NOT NULL,
        at      BIGINT NOT NULL,
        data    TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
      );
      CREATE TABLE job_log_tails (
        job_id   TEXT COLLATE "C" PRIMARY KEY,
        last_seq BIGINT NOT NULL,
        bytes    BIGINT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'finished jobs by finish time (retention)',
    sql: `
      -- deleteFinished: final jobs, oldest finish first. Only final jobs are in it, so the hot
      -- paths never write it; a job enters it once, when it ends. Built in the migrating
      -- transaction: on a large jobs table, writes wait for the build.
      CREATE INDEX jobs_finished ON jobs (finished_at, id) WHERE state IN ('succeeded', 'failed', 'cancelled');
    `,
  },
  {
    version: 3,
    name: 'coordination: scheduler liveness, shard leases, agent reports',
    sql: `
      -- Coordination of many servers (see coordination.ts). Times are epoch ms from the store's
      -- clock; a row whose expires_at has passed counts as gone (and is deleted when met).
      CREATE TABLE schedulers (
        id         TEXT COLLATE "C" PRIMARY KEY,
        expires_at BIGINT NOT NULL
      );
      CREATE TABLE shard_leases (
        shard      BIGINT PRIMARY KEY,
        owner      TEXT COLLATE "C" NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX shard_leases_owner ON shard_leases (owner);
      -- One opaque report per server: json, kept as written.
      CREATE TABLE agent_reports (
        server_id  TEXT COLLATE "C" PRIMARY KEY,
        report     JSON NOT NULL,
        at         BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'job counts per queue and state, kept by triggers; queued jobs by wait',
    sql: QUEUE_COUNTS_SQL,
  },
  {
    version: 5,
    name: 'task routes expire',
    // Routes registered before had no expiry. Kept forever, those of agents that left before
    // the upgrade would never go; an hour (ROUTES_FROM_BEFORE_MS) gives the live agents (which
    // re-register every few minutes, with a ttl) time to renew theirs, and the others lapse.
    sql: `
      ALTER TABLE task_routes ADD COLUMN expires_at BIGINT;
      UPDATE task_routes SET expires_at = (extract(epoch from now()) * 1000)::bigint + 3600000;
    `,
  },
  {
    version: 6,
    name: 'users, tokens, quotas; job counts per owner, kept by triggers',
    sql: `
      CREATE TABLE users (
        name       TEXT COLLATE "C" PRIMARY KEY,
        role       TEXT NOT NULL,
        weight     DOUBLE PRECISION NOT NULL,
        created_at BIGINT NOT NULL
      );
      -- Only the SHA-256 of a token's secret; deleting a user deletes their tokens in the same
      -- statement, so a token never outlives its user. seq orders tokens created in one ms.
      CREATE TABLE tokens (
        id         TEXT COLLATE "C" PRIMARY KEY,
        user_name  TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        hash       TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        seq        BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX tokens_by_user ON tokens (user_name, created_at, seq);
      -- A user's own quota; a null limit is no limit.
      CREATE TABLE quotas (
        user_name           TEXT COLLATE "C" PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
        max_running_jobs    BIGINT,
        max_gpus            BIGINT,
        max_queued_jobs     BIGINT,
        submit_rate_per_sec DOUBLE PRECISION
      );
      -- Whether assign must check quotas at all: one probe of this index (see sql/quotas.ts).
      CREATE INDEX quotas_limiting_assign ON quotas (user_name)
        WHERE max_running_jobs IS NOT NULL OR max_gpus IS NOT NULL;
      -- The default quota: one row at most, none until it is set (no limits).
      CREATE TABLE default_quota (
        only_row            BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
        max_running_jobs    BIGINT,
        max_gpus            BIGINT,
        max_queued_jobs     BIGINT,
        submit_rate_per_sec DOUBLE PRECISION
      );
      ${OWNER_COUNTS_SQL}
    `,
  },
  {
    version: 7,
    name: 'fair share: units in owner counts, decayed usage per owner, queued jobs by owner',
    sql: OWNER_UNITS_SQL,
  },
  {
    version: 8,
    name: 'workflows: steps as jobs with a workflow_id, step table, edges; retention leaves steps',
    sql: WORKFLOWS_SQL,
  },
  {
    version: 9,
    name: 'runtime samples: each runtime class keeps its newest runtimes, for learned estimates',
    sql: RUNTIME_SAMPLES_SQL,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** Quotes an identifier already checked to be a lower-case name. */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * Creates the schema and brings it to {@link LATEST_VERSION} in one transaction, under a
 * transaction-scoped advisory lock keyed by the schema, so servers starting together migrate
 * once and the others wait, then find nothing to do. Refuses a schema newer than the code.
 */
export async function migrate(client: pg.ClientBase, schema: string, now: number): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`baton.migrate.${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    await client.query(`SET LOCAL search_path TO ${ident(schema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    const { rows } = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    const current = rows[0]?.v ?? 0;
    if (current > LATEST_VERSION) throw new SchemaTooNewError(current, LATEST_VERSION);
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        now,
      ]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
