import { BatonError, StoreUnavailableError } from '@baton/core';
import type { Store } from './contract.js';

/**
 * Says whether a driver's error means the store's server cannot be used right now (down,
 * restarting, refusing connections), as opposed to a bug or a bad request. Each backend keeps
 * its own in its folder; `guardStore` applies it to every call.
 */
export type UnavailableClassifier = (err: unknown) => boolean;

/**
 * Wraps a store so that every call (the contract's and the coordination's) turns its driver's
 * connection-level errors into one `StoreUnavailableError` (503, retryable), wherever the call
 * comes from. Other errors, and every `BatonError`, pass unchanged. The wrapper is a proxy:
 * properties and `instanceof` are the adapter's.
 */
export function guardStore<S extends Store>(store: S, isUnavailable: UnavailableClassifier): S {
  const translate = (err: unknown): unknown =>
    !(err instanceof BatonError) && isUnavailable(err) ? new StoreUnavailableError(undefined, err) : err;
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      let wrapper = wrapped.get(property);
      if (!wrapper) {
        const method = value as (...args: unknown[]) => unknown;
        wrapper = (...args: unknown[]): unknown => {
          let result: unknown;
          try {
            result = method.apply(target, args);
          } catch (err) {
            throw translate(err);
          }
          return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(translate(err))) : result;
        };
        wrapped.set(property, wrapper);
      }
      return wrapper;
    },
  });
}

/** The `code` of a Node or driver error, if it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The message of an error, or ''. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : '';
}

/** Socket-level failures every driver reports with Node's codes. */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
