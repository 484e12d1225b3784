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
