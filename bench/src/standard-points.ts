/**
 * What the standard points are and where they run, with nothing to load: flag parsing reads
 * these without loading the benchmarks themselves (standard.ts, services.ts).
 */

/** The backends `standard` runs on. */
export const STANDARD_BACKENDS = ['sqlite', 'postgres', 'redis'] as const;
export type StandardBackend = (typeof STANDARD_BACKENDS)[number];

export const DEFAULT_POSTGRES = 'postgres://root@127.0.0.1:5432/test';
/** Not database 0, where other work keeps its keys: removing a prefix SCANs its database. */
export const DEFAULT_REDIS = 'redis://127.0.0.1:6379/12';

/** The standard points: throughput N=20 000 at C=50, latency at 1 000/s for 10 s (agent concurrency 10). */
export const STANDARD_THROUGHPUT = { jobs: 20_000, concurrency: 50 };
export const STANDARD_LATENCY = { rate: 1000, seconds: 10, concurrency: 10 };
