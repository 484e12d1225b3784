import type { JobView } from '@baton/client';

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
