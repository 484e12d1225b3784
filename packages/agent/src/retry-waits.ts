/**
 * The waits between tries of a report (an outcome, a heartbeat round). Stopping the agent cuts
 * them all short, so a heartbeat round still retrying wakes, sees heartbeats stopped and ends
 * instead of keeping the agent alive for another backoff.
 */
export class RetryWaits {
  /** Each wait's timer, with the waiter it wakes. */
  private readonly timers = new Map<NodeJS.Timeout, () => void>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }

  /** Ends every wait now. */
  wakeAll(): void {
    for (const [timer, wake] of this.timers) {
      clearTimeout(timer);
      wake();
    }
    this.timers.clear();
  }
}
