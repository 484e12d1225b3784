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
