import { BatonError } from '@baton/core';
import type { Accounts } from '../accounts.js';

/**
 * Placeholder while a backend's accounts are being built: every call fails loudly. Removed
 * once all three backends implement {@link Accounts}.
 */
export function accountsPending(backend: string): Accounts {
  const fail = async (): Promise<never> => {
    throw new BatonError('NOT_IMPLEMENTED', `accounts are not built yet on ${backend}`, 501);
  };
  return {
    createUser: fail,
    getUser: fail,
    listUsers: fail,
    deleteUser: fail,
    createToken: fail,
    getToken: fail,
    listTokens: fail,
    deleteToken: fail,
    getQuota: fail,
    setQuota: fail,
    ownerUsage: fail,
  };
}
