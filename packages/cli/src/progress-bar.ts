import type { JobView } from '@baton/client';

const WIDTH = 24;

/**
 * Shows a job's progress while `--wait` waits: a bar redrawn in place on a terminal, one line
 * per change otherwise (logs, CI).
 */
export class ProgressBar {
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  update(job: JobView): void {
    const pct = Math.max(0, Math.min(100, job.progress ?? 0));
    const filled = Math.round((pct / 100) * WIDTH);
    // A queued job says why it waits (no agent with its tags, GPUs busy, …).
    const why = job.state === 'queued' && job.pendingReason ? `  (${job.pendingReason.message})` : '';
    const line = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.round(pct)).padStart(3)}%  ${job.state.padEnd(9)} attempt ${job.attempts}/${job.maxAttempts}${why}`;
    if (this.out.isTTY) {
      this.out.write(`\r${line}\x1b[K`);
      this.drawn = true;
    } else {
      this.out.write(`${line}\n`);
    }
  }

  /** Ends the bar's line so the next output starts on its own. */
  done(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
