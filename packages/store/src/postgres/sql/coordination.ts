import { statement } from './statement.js';

/**
 * Coordination of many servers (see ../../coordination.ts): scheduler liveness, shard leases and
 * agent reports, in migration 3's tables. Each call is one statement; times are the store's clock.
 */

/**
 * Records a heartbeat, forgets expired schedulers and lists the live ones. The statement's
 * snapshot does not see its own upsert, so the beating scheduler comes from RETURNING.
 */
export const heartbeatScheduler = statement(
  'heartbeat_scheduler',
  `
-- Params: $1 scheduler id, $2 expires at, $3 now
WITH beat AS (
  INSERT INTO schedulers (id, expires_at) VALUES ($1::text, $2::bigint)
  ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
  RETURNING id, expires_at
),
dropped AS (
  DELETE FROM schedulers WHERE expires_at <= $3::bigint AND id <> $1::text
)
SELECT id FROM schedulers WHERE expires_at > $3::bigint AND id <> $1::text
UNION ALL
SELECT id FROM beat WHERE expires_at > $3::bigint
ORDER BY id`,
);

/** A clean stop: the scheduler and every shard lease it holds. */
export const removeScheduler = statement(
  'remove_scheduler',
  `
-- Params: $1 scheduler id
WITH gone AS (
  DELETE FROM schedulers WHERE id = $1::text
)
DELETE FROM shard_leases WHERE owner = $1::text`,
);

/**
 * Gives up the owner's unlisted shards and takes or renews each listed one that is free,
 * expired or its own (in shard order, so concurrent claimers lock rows in one order). The
 * rows inserted or updated are exactly the listed shards the owner holds afterwards.
 */
export const claimShards = statement(
  'claim_shards',
  `
-- Params: $1 owner, $2 listed shards, $3 expires at, $4 now
WITH released AS (
  DELETE FROM shard_leases WHERE owner = $1::text AND NOT (shard = ANY($2::bigint[]))
),
claimed AS (
  INSERT INTO shard_leases (shard, owner, expires_at)
  SELECT DISTINCT s, $1::text, $3::bigint FROM unnest($2::bigint[]) AS t(s) ORDER BY s
  ON CONFLICT (shard) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
  WHERE shard_leases.owner = excluded.owner OR shard_leases.expires_at <= $4::bigint
  RETURNING shard, expires_at
)
SELECT shard FROM claimed WHERE expires_at > $4::bigint ORDER BY shard`,
);

export const shardLeases = statement(
  'shard_leases',
  `
-- Params: $1 now
SELECT shard, owner, expires_at AS "expiresAt" FROM shard_leases WHERE expires_at > $1::bigint ORDER BY shard`,
);

/** Replaces one server's report and forgets expired ones. */
export const putAgents = statement(
  'put_agents',
  `
-- Params: $1 server id, $2 report (JSON text), $3 at (now), $4 expires at
WITH put AS (
  INSERT INTO agent_reports (server_id, report, at, expires_at) VALUES ($1::text, $2::json, $3::bigint, $4::bigint)
  ON CONFLICT (server_id) DO UPDATE SET report = excluded.report, at = excluded.at, expires_at = excluded.expires_at
)
DELETE FROM agent_reports WHERE expires_at <= $3::bigint AND server_id <> $1::text`,
);

export const agentReports = statement(
  'agent_reports',
  `
-- Params: $1 now
SELECT server_id AS "serverId", report, at FROM agent_reports WHERE expires_at > $1::bigint ORDER BY server_id`,
);
