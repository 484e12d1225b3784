import { BatonError } from '@baton/core';
import type { FairShareStore } from '../fair-share.js';

/** Placeholder while a backend's fair-share calls are being built: every call fails loudly. */
export function fairSharePending(backend: string): FairShareStore {
  const fail = async (): Promise<never> => {
    throw new BatonError('NOT_IMPLEMENTED', `fair share is not built yet on ${backend}`, 501);
  };
  return { ownerLoads: fail, addUsage: fail, usage: fail, preempt: fail };
}
