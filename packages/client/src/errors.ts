/** An error answered by the API (`status` ≥ 400), or `UNREACHABLE` (status 0) when no answer came. */
export class BatonApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
    this.name = 'BatonApiError';
  }
}
