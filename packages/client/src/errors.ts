/** An error answered by the API (`status` ≥ 400), or `UNREACHABLE` (status 0) when no answer came. */
export class BatonApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
    /**
     * The server's `Retry-After` in seconds, when it sent one (a 429 `RATE_LIMITED`,
     * `QUOTA_EXCEEDED` or `TOO_MANY_FAILED_LOGINS`, a 503): how long before trying again can help.
     */
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
    this.name = 'BatonApiError';
  }
}
