/** PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back. */
const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 5;

/**
 * Runs `attempt` (a transaction, or one statement) again from the start, with fresh reads,
 * when PostgreSQL ended it as a deadlock's victim; nothing of a rolled-back attempt stays, so
 * running it again is safe.
 *
 * Why there are deadlocks at all: before workflows every transaction of the store locked jobs
 * in one statement, in id order. A transaction that advances a workflow (workflow-advance.ts)
 * changes jobs in several statements and locks steps as advancing finds them, after the steps
 * it settled: a fail-fast cascade cancels the running siblings of the step that failed. A batch
 * that holds some of those siblings while it waits for that step (an agent's heartbeat or
 * start, a complete, a preemption) closes a cycle, as can two transactions meeting on the
 * counter rows of one slot (queue-counts.ts). PostgreSQL detects the cycle after
 * deadlock_timeout and ends one side; whichever it is runs again here, so callers never see it.
 */
export async function rerunOnDeadlock<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (n >= ATTEMPTS || typeof code !== 'string' || !RETRYABLE.has(code)) throw err;
    }
  }
}
