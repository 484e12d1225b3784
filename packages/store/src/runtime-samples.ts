/** One finished attempt's runtime, under its class (core's `runtimeClassKey`: owner, task, shape). */
export interface RuntimeSample {
  key: string;
  /** Milliseconds, a finite number ≥ 0; stored rounded to whole milliseconds. */
  runtimeMs: number;
}

/**
 * Runtime history for learned estimates (core's `runtime-estimate.ts`): each class keeps its newest
 * `RUNTIME_SAMPLES_KEPT` runtimes, newest first, shared by every server of the store. The store
 * keeps samples only; the estimate is worked out by the reader.
 */
export interface RuntimeSamples {
  /**
   * Records runtimes, in the order given (the last of a class is its newest). Each class's
   * samples are prepended and cut to the newest `RUNTIME_SAMPLES_KEPT` in one atomic step per
   * call (SQLite: one transaction; PostgreSQL: one upsert; Redis: one script), so concurrent
   * writers from many servers lose no sample but those beyond the cap. A key that is not a
   * non-empty string of at most `RUNTIME_KEY_MAX_LENGTH` characters without control characters,
   * or a runtime that is not a finite number ≥ 0, is a `ValidationError` and nothing is recorded.
   */
  recordRuntimes(samples: readonly RuntimeSample[]): Promise<void>;
  /**
   * The kept runtimes of each class asked for, newest first; classes with none are absent. At
   * most {@link MAX_RUNTIME_KEYS_READ} keys a call (more is a `ValidationError`).
   */
  runtimeSamples(keys: readonly string[]): Promise<Map<string, number[]>>;
  /**
   * A page of the classes with samples, by key (code-unit order), after `after` (exclusive;
   * null: from the first): for copying a store's history to another.
   */
  runtimeClasses(after: string | null, limit: number): Promise<string[]>;
}

/** The most keys one `runtimeSamples` call reads: a scheduler asks for the classes it sees. */
export const MAX_RUNTIME_KEYS_READ = 10_000;
