import type { IncomingHttpHeaders } from 'node:http';
import { BatonError, DEFAULT_OWNER, RetryLaterError, ValidationError, describeIssues, ownerSchema } from '@baton/core';
import type { Store, StoredToken, UserAccount } from '@baton/store';
import { FailedLogins } from './failed-logins.js';
import type { Principal } from './principal.js';
import { BUILT_IN_ADMIN } from './principal.js';
import { parseToken, sameDigest, sha256 } from './tokens.js';

export interface AuthenticatorOptions {
  /** The server's own admin token (`--admin-token`); null: stored users' tokens only. */
  adminToken: string | null;
  /** No authentication: everyone is an admin, `X-Baton-User` names the owner. */
  insecureNoAuth: boolean;
  failedLogins?: FailedLogins;
  /**
   * How long a token found in the store is trusted without asking it again. A token revoked on
   * another server stops working within this; on the server that revoked it, at once.
   */
  cacheMs?: number;
  clock?: () => number;
}

/** Tokens kept in the cache at most; a flood of distinct ids cannot grow it further. */
const MAX_CACHED_TOKENS = 10_000;

interface Cached {
  token: StoredToken;
  user: UserAccount;
  at: number;
}

/**
 * Decides who a request acts as, from its `Authorization: Bearer` token: the server's admin
 * token, or a stored user's token (found by its public id, its secret's digest compared in
 * constant time). Every failure is the same 401, whatever was wrong, so a guesser learns
 * nothing; each counts against the address (see failed-logins.ts). Never logs a token.
 */
export class Authenticator {
  readonly failedLogins: FailedLogins;
  private readonly adminDigest: string | null;
  private readonly cache = new Map<string, Cached>();
  private readonly reading = new Map<string, Promise<Cached | null>>();
  private readonly cacheMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly store: Store,
    private readonly options: AuthenticatorOptions,
  ) {
    this.failedLogins = options.failedLogins ?? new FailedLogins();
    this.adminDigest = options.adminToken === null ? null : sha256(options.adminToken);
    this.cacheMs = options.cacheMs ?? 2000;
    this.clock = options.clock ?? Date.now;
  }

  get enabled(): boolean {
    return !this.options.insecureNoAuth;
  }

  /** The principal of a request, or a 401 / 429 `BatonError`. */
  async authenticate(headers: IncomingHttpHeaders, address: string): Promise<Principal> {
    if (this.options.insecureNoAuth) {
      return { name: actingFor(headers) ?? DEFAULT_OWNER, role: 'admin', builtIn: true };
    }
    const header = headers.authorization;
    if (header === undefined || header === '') {
      throw new BatonError('UNAUTHORIZED', 'this API needs a token: send Authorization: Bearer <token>', 401);
    }
    const blockedMs = this.failedLogins.blockedFor(address);
    if (blockedMs > 0) {
      throw new RetryLaterError(
        'TOO_MANY_FAILED_LOGINS',
        'too many requests with bad tokens from this address; wait before trying again',
        blockedMs,
      );
    }
    const principal = await this.principalOf(header);
    if (!principal) {
      this.failedLogins.fail(address);
      throw new BatonError('UNAUTHORIZED', 'the token is not valid (unknown, revoked or malformed)', 401);
    }
    return principal;
  }

  /** Forgets a token at once on this server (revoked, or its user deleted). */
  forget(tokenId: string): void {
    this.cache.delete(tokenId);
    this.reading.delete(tokenId);
  }

  forgetUser(name: string): void {
    for (const [id, c] of this.cache) if (c.user.name === name) this.cache.delete(id);
    // A read in flight may be of this user's token: none of them is kept.
    this.reading.clear();
  }

  private async principalOf(header: string): Promise<Principal | null> {
    const match = /^Bearer +(\S+)\s*$/i.exec(header);
    if (!match) return null;
    const presented = match[1] as string;
    if (this.adminDigest !== null && sameDigest(sha256(presented), this.adminDigest)) {
      return { name: BUILT_IN_ADMIN, role: 'admin', builtIn: true };
    }
    const parsed = parseToken(presented);
    if (!parsed) return null;
    const found = await this.lookup(parsed.id);
    if (!found || !sameDigest(parsed.hash, found.token.hash)) return null;
    return { name: found.user.name, role: found.user.role, builtIn: false };
  }

  private async lookup(id: string): Promise<Cached | null> {
    const now = this.clock();
    const cached = this.cache.get(id);
    if (cached && now - cached.at < this.cacheMs) return cached;
    // One store read per token at a time: requests that arrive while it is read share it,
    // so a busy client does not send a read per request each time the entry goes stale.
    const inFlight = this.reading.get(id);
    if (inFlight) return inFlight;
    const read: Promise<Cached | null> = this.read(id, now, () => this.reading.get(id) === read).finally(() => {
      if (this.reading.get(id) === read) this.reading.delete(id);
    });
    this.reading.set(id, read);
    return read;
  }

  private async read(id: string, now: number, stillWanted: () => boolean): Promise<Cached | null> {
    const token = await this.store.getToken(id);
    const user = token ? await this.store.getUser(token.user) : null;
    this.cache.delete(id);
    if (!token || !user) return null;
    const entry = { token, user, at: now };
    // Forgotten (revoked) while it was read: answer this once, keep nothing.
    if (!stillWanted()) return entry;
    this.cache.set(id, entry);
    if (this.cache.size > MAX_CACHED_TOKENS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return entry;
  }
}

/** `X-Baton-User`, validated: the user an admin acts for. */
export function actingFor(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-baton-user'];
  if (header === undefined) return undefined;
  const parsed = ownerSchema.safeParse(header);
  if (!parsed.success)
    throw new ValidationError(`X-Baton-User: ${describeIssues(parsed.error).message}`, undefined, 'INVALID_USER');
  return parsed.data;
}
