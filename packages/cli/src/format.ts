import type { JobResources, JobView } from '@baton/client';

/** A plain-text table: columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function progressText(progress: number | null): string {
  return progress === null ? '-' : `${Math.round(progress)}%`;
}

export function shortTime(iso: string | null): string {
  return iso === null ? '-' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function priorityText(job: Pick<JobView, 'priority' | 'priorityLevel'>): string {
  return job.priorityLevel === 0 ? job.priority : `${job.priority}:${job.priorityLevel}`;
}

export function jsonText(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/** `2 slots, 1.5 cpu, 512 MiB, 1 gpu`: slots always, the rest when reserved. */
export function resourcesText(r: JobResources): string {
  const parts = [`${r.slots} ${r.slots === 1 ? 'slot' : 'slots'}`];
  if (r.cpu > 0) parts.push(`${r.cpu} cpu`);
  if (r.memoryMb > 0) parts.push(`${r.memoryMb} MiB`);
  if (r.gpus > 0) parts.push(`${r.gpus} ${r.gpus === 1 ? 'gpu' : 'gpus'}`);
  return parts.join(', ');
}

/** A list as `a,b`, or `-` when empty. */
export function listText(items: readonly string[]): string {
  return items.length > 0 ? items.join(',') : '-';
}

/** A duration for people: `850 ms`, `12.5 s`, `3 min 20 s`, `2 h 5 min`. */
export function durationText(ms: number): string {
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  // Rounded first, so 59.96 s reads as 1 min 0 s, not 60 s.
  if (ms < 59_950) return `${Number((ms / 1000).toFixed(1))} s`;
  const totalS = Math.round(ms / 1000);
  if (totalS < 3600) return `${Math.floor(totalS / 60)} min ${totalS % 60} s`;
  const totalMin = Math.round(totalS / 60);
  return `${Math.floor(totalMin / 60)} h ${totalMin % 60} min`;
}

/**
 * A job's expected runtime and where it comes from: its timeout, or what its class (owner, task,
 * resources) took recently (learned: planned with, never enforced); `-` when neither is known.
 */
export function expectedRuntimeText(job: Pick<JobView, 'expectedRuntimeMs' | 'expectedRuntimeSource'>): string {
  const ms = job.expectedRuntimeMs;
  if (ms === null || ms === undefined || job.expectedRuntimeSource === 'none') return '-';
  return job.expectedRuntimeSource === 'limit'
    ? `${durationText(ms)} (its timeout)`
    : `${durationText(ms)} (learned from recent runs)`;
}
