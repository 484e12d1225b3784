import { statement } from './statement.js';

/** Users, their tokens and quotas (migration 6). Names and ids are taken as given. */

/** Inserts a user; no row when the name is taken. */
export const createUser = statement(
  'create_user',
  `
-- Params: $1 name, $2 role, $3 weight, $4 created at
INSERT INTO users (name, role, weight, created_at) VALUES ($1::text, $2::text, $3::float8, $4::bigint)
ON CONFLICT (name) DO NOTHING
RETURNING *`,
);

export const getUser = statement(
  'get_user',
  `
-- Params: $1 name
SELECT * FROM users WHERE name = $1::text`,
);

/** Changes a user's role or weight (null: unchanged); no row when there is no such user. */
export const updateUser = statement(
  'update_user',
  `
-- Params: $1 name, $2 role or null, $3 weight or null
UPDATE users SET role = coalesce($2::text, role), weight = coalesce($3::float8, weight)
WHERE name = $1::text
RETURNING *`,
);

export const listUsers = statement(
  'list_users',
  `
-- Params: none
SELECT * FROM users ORDER BY name`,
);

/** Deletes a user; their tokens and quota go with them (ON DELETE CASCADE), in this statement. */
export const deleteUser = statement(
  'delete_user',
  `
-- Params: $1 name
DELETE FROM users WHERE name = $1::text RETURNING name`,
);

/**
 * Inserts a token; no row when the id is taken. A user that does not exist, or is deleted
 * meanwhile, fails the foreign key (23503): the key check locks the user's row, so a token is
 * never left behind for a deleted user.
 */
export const createToken = statement(
  'create_token',
  `
-- Params: $1 id, $2 user, $3 hash, $4 created at
INSERT INTO tokens (id, user_name, hash, created_at) VALUES ($1::text, $2::text, $3::text, $4::bigint)
ON CONFLICT (id) DO NOTHING
RETURNING id, user_name, hash, created_at`,
);

export const getToken = statement(
  'get_token',
  `
-- Params: $1 id
SELECT id, user_name, hash, created_at FROM tokens WHERE id = $1::text`,
);

export const listTokens = statement(
  'list_tokens',
  `
-- Params: $1 user
SELECT id, user_name, hash, created_at FROM tokens WHERE user_name = $1::text ORDER BY created_at, seq`,
);

export const deleteToken = statement(
  'delete_token',
  `
-- Params: $1 id
DELETE FROM tokens WHERE id = $1::text RETURNING id, user_name, hash, created_at`,
);

export const getUserQuota = statement(
  'get_user_quota',
  `
-- Params: $1 user
SELECT * FROM quotas WHERE user_name = $1::text`,
);

export const getDefaultQuota = statement(
  'get_default_quota',
  `
-- Params: none
SELECT * FROM default_quota`,
);

/** Sets a user's quota whole; an unknown user fails the foreign key (23503). */
export const setUserQuota = statement(
  'set_user_quota',
  `
-- Params: $1 user, $2 max running jobs, $3 max GPUs, $4 max queued jobs, $5 submissions per second
INSERT INTO quotas (user_name, max_running_jobs, max_gpus, max_queued_jobs, submit_rate_per_sec)
VALUES ($1::text, $2::bigint, $3::bigint, $4::bigint, $5::float8)
ON CONFLICT (user_name) DO UPDATE SET max_running_jobs = excluded.max_running_jobs,
  max_gpus = excluded.max_gpus, max_queued_jobs = excluded.max_queued_jobs,
  submit_rate_per_sec = excluded.submit_rate_per_sec`,
);

/**
 * Removes a user's own quota; answers whether the user exists (in the statement's snapshot, so
 * a user deleted concurrently reads as either, and their quota is gone either way).
 */
export const removeUserQuota = statement(
  'remove_user_quota',
  `
-- Params: $1 user
WITH removed AS (DELETE FROM quotas WHERE user_name = $1::text)
SELECT EXISTS (SELECT 1 FROM users WHERE name = $1::text) AS user_exists`,
);

export const setDefaultQuota = statement(
  'set_default_quota',
  `
-- Params: $1 max running jobs, $2 max GPUs, $3 max queued jobs, $4 submissions per second
INSERT INTO default_quota (only_row, max_running_jobs, max_gpus, max_queued_jobs, submit_rate_per_sec)
VALUES (true, $1::bigint, $2::bigint, $3::bigint, $4::float8)
ON CONFLICT (only_row) DO UPDATE SET max_running_jobs = excluded.max_running_jobs,
  max_gpus = excluded.max_gpus, max_queued_jobs = excluded.max_queued_jobs,
  submit_rate_per_sec = excluded.submit_rate_per_sec`,
);

/** The default back to no limits: the row goes, as if never set. */
export const removeDefaultQuota = statement(
  'remove_default_quota',
  `
-- Params: none
DELETE FROM default_quota`,
);
