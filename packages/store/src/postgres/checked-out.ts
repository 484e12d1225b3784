import type pg from 'pg';

/**
 * Guards a client checked out of the pool for several statements; the returned function gives
 * it back. pg-pool listens for a client's 'error' only while it is idle, so a connection that
 * drops while checked out (a terminated backend, a server restart) would emit an unhandled
 * 'error' and crash the process. Here the error is noted (the statement in flight fails on its
 * own) and the broken connection is discarded on release instead of going back to the pool.
 */
export function guardErrors(client: pg.PoolClient): () => void {
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  return () => {
    client.removeListener('error', onError);
    client.release(broken);
  };
}
