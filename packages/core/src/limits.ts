/** Defaults that the API and the CLI share; each can be overridden where it is used. */
export const DEFAULT_QUEUE = 'default';
export const DEFAULT_OWNER = 'local';
/** Pool of an agent that names none. */
export const DEFAULT_POOL = 'default';
/** Largest job payload accepted, serialized as JSON. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Most jobs accepted by one `POST /api/jobs/bulk`. */
export const MAX_BULK_JOBS = 1000;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 1000;
/** How long an assignment stays valid without a heartbeat before the job is run elsewhere. */
export const DEFAULT_LEASE_MS = 10_000;
export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 500;
export const DEFAULT_PORT = 7070;
/** Shortest agent (and admin) token a server accepts: a guessable token would let anyone run work as an agent. */
export const MIN_AGENT_TOKEN_LENGTH = 16;
/**
 * Deepest nesting of objects and arrays in a job payload (`[]` is 1 level, `[[1]]` is 2).
 * Real payloads stay within a handful of levels; far deeper ones overflow recursive encoders
 * (JSON.stringify at ~5 000 levels, msgpack on the way to an agent at ~1 400).
 */
export const MAX_PAYLOAD_DEPTH = 64;
/**
 * Deepest nesting of any request body, checked on the raw text before it is parsed: room for
 * the deepest payload inside a bulk request, and a cap on what a hostile body makes the parser
 * build (a 32 MiB body nested all the way down would take ~1 GiB and seconds to parse).
 */
export const MAX_BODY_DEPTH = 256;
/**
 * Latest time a job may name: the last millisecond of year 9999 UTC, the last an ISO 8601 date
 * with a four-digit year can write, far inside what a JavaScript Date holds (±8.64e15 ms).
 */
export const MAX_TIME_MS = 253_402_300_799_999;
