import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '@baton/store';
import { openStore } from '@baton/store';
import { Authenticator } from '../src/auth/authenticator.js';
import { mintToken } from '../src/auth/tokens.js';
import { QuotaBook } from '../src/quota/quota-book.js';

/**
 * Requests that arrive while a token or a quota is being read share that one read, and a
 * token revoked (or a quota changed) during the read is not kept.
 */
describe('shared token and quota reads', () => {
  let store: Store;
  let reads: { getToken: number; getQuota: number };
  let counted: Store;
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    reads = { getToken: 0, getQuota: 0 };
    counted = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'getToken' || prop === 'getQuota') {
          return async (arg: string | null) => {
            reads[prop] += 1;
            // Read first, answer later: what was read may be stale by the time it arrives.
            const value = prop === 'getToken' ? await target.getToken(arg as string) : await target.getQuota(arg);
            await new Promise((r) => setTimeout(r, 5));
            return value;
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    await store.createUser({ name: 'ada', role: 'user', weight: 1 });
  });
  afterEach(async () => store.close());

  it('reads a token once for 50 requests that arrive together', async () => {
    const minted = mintToken();
    await store.createToken({ id: minted.id, user: 'ada', hash: minted.hash });
    const auth = new Authenticator(counted, { adminToken: null, insecureNoAuth: false });
    const who = await Promise.all(
      Array.from({ length: 50 }, () => auth.authenticate({ authorization: `Bearer ${minted.token}` }, '127.0.0.1')),
    );
    expect(who.every((p) => p.name === 'ada')).toBe(true);
    expect(reads.getToken).toBe(1);
    // A wrong secret for the same id is still refused, from the shared read.
    await expect(
      auth.authenticate({ authorization: `Bearer ${minted.token.slice(0, -2)}xx` }, '127.0.0.1'),
    ).rejects.toMatchObject({ httpStatus: 401 });
  });

  it('does not keep a token forgotten (revoked) while it was read', async () => {
    const minted = mintToken();
    await store.createToken({ id: minted.id, user: 'ada', hash: minted.hash });
    const auth = new Authenticator(counted, { adminToken: null, insecureNoAuth: false });
    const header = { authorization: `Bearer ${minted.token}` };
    const during = auth.authenticate(header, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 1));
    await store.deleteToken(minted.id);
    auth.forget(minted.id);
    // Read before the revocation: this request raced it and passes; nothing is kept.
    expect((await during).name).toBe('ada');
    await expect(auth.authenticate(header, '127.0.0.1')).rejects.toMatchObject({ httpStatus: 401 });
    expect(reads.getToken).toBe(2);
  });

  it('reads an owner’s quota once for submissions that arrive together, and again after forget', async () => {
    await store.setQuota('ada', { maxRunningJobs: 3, maxGpus: null, maxQueuedJobs: null, submitRatePerSec: null });
    const book = new QuotaBook(counted);
    const all = await Promise.all(Array.from({ length: 30 }, () => book.effective('ada')));
    expect(all.every((q) => q.source === 'user' && q.quota.maxRunningJobs === 3)).toBe(true);
    expect(reads.getQuota).toBe(1);
    const during = book.effective('bo');
    book.forget('bo');
    await during;
    await book.effective('bo');
    // bo's own quota (none) read twice, the first read not kept; the default once (kept).
    expect(reads.getQuota).toBe(4);
  });
});
