import type Database from 'better-sqlite3';

/** Every statement the SQLite store prepares once at init. Positional parameters in the order written. */
export const SQL = {
  getJob: 'SELECT * FROM jobs WHERE id = ?',
  getLease: 'SELECT state, lease_token FROM jobs WHERE id = ?',
  getByIdempotencyKey: 'SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?',
  // Attempts that ended without ending the job have rows; the job's latest attempt, running
  // or final, is read from the job row itself, which saves a write per job on the hot path.
  getAttempts: `SELECT attempt, agent_id, assigned_at, started_at, finished_at, outcome, error
      FROM job_attempts WHERE job_id = @id
    UNION ALL
    SELECT attempts, agent_id, assigned_at, started_at,
      CASE WHEN state IN ('succeeded', 'failed', 'cancelled', 'skipped') THEN finished_at END,
      CASE state
        WHEN 'succeeded' THEN 'succeeded'
        WHEN 'cancelled' THEN 'cancelled'
        WHEN 'failed' THEN CASE WHEN json_extract(error, '$.code') = 'LEASE_EXPIRED' THEN 'lease_expired' ELSE 'failed' END
      END,
      CASE WHEN state = 'failed' THEN error END
      FROM jobs WHERE id = @id AND attempts > (SELECT COUNT(*) FROM job_attempts WHERE job_id = @id)
    ORDER BY 1`,
  // Params: the columns named, as rowFromNewJob builds them.
  insertJob: `INSERT INTO jobs (id, queue, task, owner, payload, state, priority, priority_level, resources,
      constraints, max_attempts, backoff_ms, timeout_ms, run_at, idempotency_key, created_at, updated_at)
    VALUES (@id, @queue, @task, @owner, @payload, @state, @priority, @priority_level, @resources,
      @constraints, @max_attempts, @backoff_ms, @timeout_ms, @run_at, @idempotency_key, @created_at, @updated_at)
    RETURNING *`,
  // Params: @now, @id
  cancelJob: `UPDATE jobs SET state = 'cancelled', finished_at = @now, updated_at = @now,
      lease_token = NULL, lease_expires_at = NULL
    WHERE id = @id RETURNING *`,
  // Params: now, now
  promoteDue: `UPDATE jobs SET state = 'queued', updated_at = ? WHERE state = 'delayed' AND run_at <= ?`,
  nextRunAt: `SELECT MIN(run_at) AS t FROM jobs WHERE state = 'delayed'`,
  // Params: queue, limit. Served by the partial index jobs_queued, in scheduling order.
  pending: `SELECT id, queue, task, owner, priority, priority_level, resources, constraints, avoid_agent_id, timeout_ms FROM jobs
    WHERE state = 'queued' AND queue = ? ORDER BY priority, priority_level DESC, id LIMIT ?`,
  // Keyset pages after a job (priority rank, level, id), as three ranges of jobs_queued in order:
  // the rest of its level, the lower levels of its class, the later classes.
  // Params: queue, rank, level, id, limit
  pendingAfterInLevel: `SELECT id, queue, task, owner, priority, priority_level, resources, constraints, avoid_agent_id, timeout_ms
    FROM jobs WHERE state = 'queued' AND queue = ? AND priority = ? AND priority_level = ? AND id > ? ORDER BY id LIMIT ?`,
  // Params: queue, rank, level, limit
  pendingAfterInClass: `SELECT id, queue, task, owner, priority, priority_level, resources, constraints, avoid_agent_id, timeout_ms
    FROM jobs WHERE state = 'queued' AND queue = ? AND priority = ? AND priority_level < ?
    ORDER BY priority_level DESC, id LIMIT ?`,
  // Params: queue, rank, limit
  pendingAfterClass: `SELECT id, queue, task, owner, priority, priority_level, resources, constraints, avoid_agent_id, timeout_ms
    FROM jobs WHERE state = 'queued' AND queue = ? AND priority > ? ORDER BY priority, priority_level DESC, id LIMIT ?`,
  // Params: @agentId, @leaseToken, @leaseExpiresAt, @gpus (JSON array), @now, @id. Only a still-queued
  // job is assigned. avoid_agent_id stays: it names the agent whose lease last expired.
  assignJob: `UPDATE jobs SET state = 'assigned', agent_id = @agentId, lease_token = @leaseToken,
      lease_expires_at = @leaseExpiresAt, gpus = @gpus, attempts = attempts + 1, progress = NULL, started_at = NULL,
      assigned_at = @now, updated_at = @now
    WHERE id = @id AND state = 'queued'
    RETURNING id, queue, task, owner, payload, attempts, max_attempts, timeout_ms, resources, workflow_id`,
  // Params: now
  expiredLeases: `SELECT * FROM jobs WHERE state IN ('assigned', 'running') AND lease_expires_at <= ?
    ORDER BY lease_expires_at LIMIT 1000`,
  nextLeaseExpiry: `SELECT MIN(lease_expires_at) AS t FROM jobs WHERE state IN ('assigned', 'running')`,
  // The lease-checked transitions below change a row only while the caller's lease is current;
  // zero changes means the report is refused (the reason is looked up separately).
  // Params: @now, @leaseExpiresAt, @id, @leaseToken
  startJob: `UPDATE jobs SET started_at = CASE WHEN state = 'assigned' THEN @now ELSE started_at END,
      state = 'running', lease_expires_at = @leaseExpiresAt, updated_at = @now
    WHERE id = @id AND lease_token = @leaseToken AND state IN ('assigned', 'running')`,
  // Params: @leaseExpiresAt, @progress (null keeps it), @now, @id, @leaseToken
  renewLease: `UPDATE jobs SET lease_expires_at = @leaseExpiresAt, progress = COALESCE(@progress, progress), updated_at = @now
    WHERE id = @id AND lease_token = @leaseToken AND state IN ('assigned', 'running')
    RETURNING state`,
  // Params: @outcome, @error, @now, @id, @leaseToken, @startedAt (the agent's, if it never reported
  // the start). Records an attempt that ends without ending its job (a retry, a lost lease); call
  // it before the job row leaves its leased state, which it is copied from. A stale token copies
  // nothing.
  finishAttempt: `INSERT INTO job_attempts (job_id, attempt, agent_id, lease_token, assigned_at, started_at,
      finished_at, outcome, error)
    SELECT id, attempts, agent_id, lease_token, assigned_at, COALESCE(started_at, MIN(@startedAt, @now)),
      @now, @outcome, @error
    FROM jobs WHERE id = @id AND lease_token = @leaseToken AND state IN ('assigned', 'running')`,
  // Params: @result, @now, @id, @leaseToken, @startedAt. Answers the job's workflow (null for a plain job).
  succeedJob: `UPDATE jobs SET state = 'succeeded', result = @result, error = NULL, progress = 100,
      finished_at = @now, updated_at = @now,
      started_at = COALESCE(started_at, MIN(@startedAt, @now)), lease_token = NULL, lease_expires_at = NULL
    WHERE id = @id AND lease_token = @leaseToken AND state IN ('assigned', 'running')
    RETURNING workflow_id`,
  // Params: @error, @now, @id, @startedAt
  failJob: `UPDATE jobs SET state = 'failed', error = @error, finished_at = @now, updated_at = @now,
      started_at = COALESCE(started_at, MIN(@startedAt, @now)), lease_token = NULL, lease_expires_at = NULL
    WHERE id = @id`,
  // Params: state, runAt, error, now, id. The job's gpus stay: they name its last assignment.
  requeueJob: `UPDATE jobs SET state = ?, run_at = ?, error = ?, updated_at = ?,
      agent_id = NULL, lease_token = NULL, lease_expires_at = NULL
    WHERE id = ?`,
  // Params: @error, @now, @id. As requeueJob to 'queued' now, for a lease that ran out: the agent
  // that held it (SET reads the row as it was) becomes the one placement avoids.
  requeueExpired: `UPDATE jobs SET state = 'queued', run_at = @now, error = @error, updated_at = @now,
      avoid_agent_id = agent_id, agent_id = NULL, lease_token = NULL, lease_expires_at = NULL
    WHERE id = @id`,
  // The counters the triggers of migration 4 keep: one row per queue and state, never a scan of jobs.
  countByQueueState: 'SELECT queue, state, n FROM queue_counts WHERE n > 0',
  // A job's wait starts when it became runnable, and never before it was created (runAt may lie
  // in the past). One probe of jobs_queued_since per queue with queued jobs; the ORDER BY repeats
  // the index's expression so SQLite reads it from the index.
  oldestQueued: `SELECT c.queue, (SELECT MAX(run_at, created_at) FROM jobs
        WHERE state = 'queued' AND queue = c.queue ORDER BY MAX(run_at, created_at) LIMIT 1) AS run_at
    FROM queue_counts c WHERE c.state = 'queued' AND c.n > 0`,
  // Task routes (see routes.ts): live while expires_at is null (forever) or after now. The
  // table holds task × queue pairs, a few hundred at most, so scans are fine. Params: now
  routeQueues: 'SELECT DISTINCT queue FROM task_routes WHERE expires_at IS NULL OR expires_at > ?',
  // Params: now
  liveRoutes: `SELECT task, queue, expires_at AS expiresAt FROM task_routes
    WHERE expires_at IS NULL OR expires_at > ? ORDER BY task, queue`,
  // Params: task, queue
  routeExpiry: 'SELECT expires_at FROM task_routes WHERE task = ? AND queue = ?',
  // Params: @task, @queue, @now, @expiresAt (null: forever). The newest registration decides
  // between forever and expiring (a forever route registered with a ttl expires, so routes of
  // agents that left lapse); between two expiries the later wins (an expired row is older
  // than any new expiry), so a registration never shortens a route's life.
  upsertRoute: `INSERT INTO task_routes (task, queue, registered_at, expires_at) VALUES (@task, @queue, @now, @expiresAt)
    ON CONFLICT (task, queue) DO UPDATE SET registered_at = excluded.registered_at,
      expires_at = CASE WHEN excluded.expires_at IS NULL OR task_routes.expires_at IS NULL THEN excluded.expires_at
        ELSE MAX(task_routes.expires_at, excluded.expires_at) END`,
  // Params: now, limit. Expired routes, a bounded batch.
  sweepRoutes: `DELETE FROM task_routes WHERE (task, queue) IN
    (SELECT task, queue FROM task_routes WHERE expires_at <= ? LIMIT ?)`,

  // Retention (deleteFinished) never deletes a workflow's step (a retry may need its result).
  // Steps are left out before the per-state scan's window is counted, so old steps never fill it
  // and stall a state's retention; the scan steps over them (a row read each) instead.
  // Params: @before, @limit. Final jobs in creation (id)
  // order, each state through its own partial index: no index by finish time, which would cost
  // every completion one more index write on the hot path.
  finishedBefore: `SELECT id FROM (
      SELECT * FROM (SELECT id FROM jobs WHERE state = 'succeeded' AND finished_at < @before AND workflow_id IS NULL ORDER BY id LIMIT @limit)
      UNION ALL
      SELECT * FROM (SELECT id FROM jobs WHERE state = 'failed' AND finished_at < @before AND workflow_id IS NULL ORDER BY id LIMIT @limit)
      UNION ALL
      SELECT * FROM (SELECT id FROM jobs WHERE state = 'cancelled' AND finished_at < @before AND workflow_id IS NULL ORDER BY id LIMIT @limit))
    ORDER BY id LIMIT @limit`,
  // The same for one state (a state's own retention), looking at the state's @scan oldest jobs
  // only: with nothing due, the whole index would be read on every call (85 ms for 200 000
  // jobs, on the event loop). Jobs created long before they finished can hold back younger
  // ones until they are due themselves. The state is written out, not a parameter: SQLite uses
  // a partial index only when the query's WHERE names its state.
  succeededBefore: `SELECT id FROM (SELECT id, finished_at FROM jobs WHERE state = 'succeeded' AND workflow_id IS NULL
      ORDER BY id LIMIT @scan)
    WHERE finished_at < @before LIMIT @limit`,
  failedBefore: `SELECT id FROM (SELECT id, finished_at FROM jobs WHERE state = 'failed' AND workflow_id IS NULL
      ORDER BY id LIMIT @scan)
    WHERE finished_at < @before LIMIT @limit`,
  cancelledBefore: `SELECT id FROM (SELECT id, finished_at FROM jobs WHERE state = 'cancelled' AND workflow_id IS NULL
      ORDER BY id LIMIT @scan)
    WHERE finished_at < @before LIMIT @limit`,
  // Params: jobId. The job row goes last, and only while final; its idempotency key goes with it.
  deleteAttempts: 'DELETE FROM job_attempts WHERE job_id = ?',
  deleteLogs: 'DELETE FROM job_logs WHERE job_id = ?',
  deleteLogTail: 'DELETE FROM job_log_tails WHERE job_id = ?',
  deleteFinishedJob: `DELETE FROM jobs WHERE id = ? AND state IN ('succeeded', 'failed', 'cancelled') AND workflow_id IS NULL`,

  // Job output (see logs.ts). job_log_tails holds each job's last seq and kept bytes.
  // Params: jobId
  logTail: 'SELECT last_seq, bytes FROM job_log_tails WHERE job_id = ?',
  // Params: jobId, lastSeq, bytes
  upsertLogTail: `INSERT INTO job_log_tails (job_id, last_seq, bytes) VALUES (?, ?, ?)
    ON CONFLICT (job_id) DO UPDATE SET last_seq = excluded.last_seq, bytes = excluded.bytes`,
  // Params: jobId, seq, attempt, stream, bytes, at, data
  insertLog: 'INSERT INTO job_logs (job_id, seq, attempt, stream, bytes, at, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
  // Params: jobId. Oldest first; reads sizes only, never the text.
  logSizes: 'SELECT seq, bytes FROM job_logs WHERE job_id = ? ORDER BY seq',
  // Params: jobId, seq. Drops the chunks up to and including seq.
  dropLogs: 'DELETE FROM job_logs WHERE job_id = ? AND seq <= ?',
  // Params: jobId, afterSeq
  getLogs: 'SELECT seq, attempt, stream, data, at FROM job_logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?',

  // Quotas (migration 6; see quotas.ts). Whether any quota limits placement at all, so that
  // assign skips the quota check while none does (the common case); a few rows at most.
  quotaLimitsPlacement: `SELECT EXISTS (SELECT 1 FROM quotas
    WHERE max_running_jobs IS NOT NULL OR max_gpus IS NOT NULL) AS limited`,
  // Params: kind ('default' with user '', or 'user'), user
  quotaOf: `SELECT max_running_jobs, max_gpus, max_queued_jobs, submit_rate_per_sec FROM quotas
    WHERE kind = ? AND user = ?`,
  // Params: owner. Jobs assigned or running, and their GPUs, from the triggers' counts.
  ownerLeased: `SELECT COALESCE(SUM(n), 0) AS jobs, COALESCE(SUM(gpus), 0) AS gpus FROM owner_counts
    WHERE owner = ? AND state IN ('assigned', 'running')`,
  // Params: owner
  ownerCounts: 'SELECT queue, state, n, gpus FROM owner_counts WHERE owner = ? AND n > 0',
  // Params: @owner, @queue, @state, @n, @gpus, @units. Enqueue's new jobs, added per group.
  addOwnerCounts: `INSERT INTO owner_counts (owner, queue, state, n, gpus, units)
    VALUES (@owner, @queue, @state, @n, @gpus, @units)
    ON CONFLICT (owner, queue, state) DO UPDATE
    SET n = n + excluded.n, gpus = gpus + excluded.gpus, units = units + excluded.units`,
  // Params: id. Whose a queued job is and the GPUs it asks for, before assign checks the quota.
  queuedJobOwner: `SELECT owner, COALESCE(json_extract(resources, '$.gpus'), 0) AS gpus FROM jobs
    WHERE id = ? AND state = 'queued'`,

  // Fair share and preemption (migration 7; see fair-share.ts).
  // Params: queue. The owners with queued jobs in the queue, through owner_counts_by_queue.
  queuedOwners: `SELECT owner FROM owner_counts WHERE queue = ? AND state = 'queued' AND n > 0 ORDER BY owner`,
  // Params: queue, owner, limit. One owner's head, served by jobs_queued_by_owner in scheduling order.
  pendingOfOwner: `SELECT id, queue, task, owner, priority, priority_level, resources, constraints, avoid_agent_id, timeout_ms
    FROM jobs WHERE state = 'queued' AND queue = ? AND owner = ? ORDER BY priority, priority_level DESC, id LIMIT ?`,
  // What each owner's leased jobs hold, from the triggers' counts: O(owners), never a scan of jobs.
  ownerLoads: `SELECT owner, SUM(n) AS jobs, SUM(gpus) AS gpus, SUM(units) AS units FROM owner_counts
    WHERE state IN ('assigned', 'running') GROUP BY owner HAVING SUM(n) > 0`,
  // Params: owner
  usageOf: 'SELECT units, at FROM owner_usage WHERE owner = ?',
  allUsage: 'SELECT owner, units, at FROM owner_usage',
  // Params: owner, units, at. units is already decayed to at and added to.
  putUsage: `INSERT INTO owner_usage (owner, units, at) VALUES (?, ?, ?)
    ON CONFLICT (owner) DO UPDATE SET units = excluded.units, at = excluded.at`,
  // Params: @error, @now, @id. As requeueJob to 'queued' now, for a preempted job: the attempt
  // it was on is given back, so the attempts it has left are as before it was assigned.
  preemptJob: `UPDATE jobs SET state = 'queued', run_at = @now, error = @error, updated_at = @now,
      max_attempts = max_attempts + 1, agent_id = NULL, lease_token = NULL, lease_expires_at = NULL
    WHERE id = @id`,
} as const;

/** The statements of {@link SQL}, prepared. */
export type Statements = Record<keyof typeof SQL, Database.Statement<unknown[], unknown>>;
