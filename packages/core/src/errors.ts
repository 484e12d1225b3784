/**
 * Baton's named errors. Each has a stable `code` (what clients match on), an HTTP status for
 * the API edge, and whether retrying the same call could succeed.
 */
export class BatonError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: number = 500,
    readonly details?: unknown,
    readonly retryable = false,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Input that can never succeed as sent: 400. */
export class ValidationError extends BatonError {
  constructor(message: string, details?: unknown, code = 'VALIDATION_FAILED') {
    super(code, message, 400, details);
  }
}

export class NotFoundError extends BatonError {
  constructor(message: string, code = 'NOT_FOUND') {
    super(code, message, 404);
  }
}

/** The request is valid but conflicts with the job's current state: 409. */
export class ConflictError extends BatonError {
  constructor(message: string, code = 'CONFLICT', details?: unknown) {
    super(code, message, 409, details);
  }
}

export class PayloadTooLargeError extends BatonError {
  constructor(message: string) {
    super('PAYLOAD_TOO_LARGE', message, 413);
  }
}

/** The store's schema was written by a newer Baton; running older code on it could corrupt it. */
export class SchemaTooNewError extends BatonError {
  constructor(found: number, known: number) {
    super(
      'SCHEMA_TOO_NEW',
      `the store's schema is at version ${found} but this Baton knows only up to ${known}; upgrade Baton`,
      500,
    );
  }
}

/**
 * The store cannot be reached or is not taking requests right now (its server is down,
 * restarting, failing over, or every connection is busy): 503, retryable. The driver's own
 * error is kept as `cause` for the server's log; the message says nothing about the backend.
 */
export class StoreUnavailableError extends BatonError {
  constructor(message = 'the job store is unavailable; retry in a few seconds', cause?: unknown) {
    super('STORE_UNAVAILABLE', message, 503, undefined, true);
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * Thrown by a task to fail its job at once, without further attempts.
 * Any other error thrown by a task is retried until `maxAttempts` is reached.
 */
export class NonRetryableError extends Error {
  readonly retryable = false;
  constructor(
    message: string,
    readonly code = 'TASK_FAILED',
  ) {
    super(message);
    this.name = 'NonRetryableError';
  }
}

/**
 * Too many requests of some kind (failed logins, submissions over a rate or quota): 429, with
 * how long to wait, which the API sends as `Retry-After` (whole seconds, at least 1).
 */
export class RetryLaterError extends BatonError {
  readonly retryAfterS: number;
  constructor(code: string, message: string, retryAfterMs: number, details?: unknown) {
    super(code, message, 429, details, true);
    this.retryAfterS = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}
