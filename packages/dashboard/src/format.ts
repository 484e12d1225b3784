/** How figures read on the page. */

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  return `${duration(now - Date.parse(iso))} ago`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  if (abs < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((abs % 60_000) / 1000)} s`;
  if (abs < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.floor((abs % 3_600_000) / 60_000)} min`;
  return `${Math.floor(ms / 86_400_000)} d ${Math.floor((abs % 86_400_000) / 3_600_000)} h`;
}

export function between(from: string | null | undefined, to: string | null | undefined): string {
  if (!from) return '—';
  return duration((to ? Date.parse(to) : Date.now()) - Date.parse(from));
}

export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString();
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * JSON for display, cut to `limit` characters: a 50 MB payload must not hang the page, so it is
 * never pretty-printed whole (stringify once, then slice).
 */
export function previewJson(value: unknown, limit = 20_000): { text: string; size: number; truncated: boolean } {
  const raw = JSON.stringify(value) ?? 'null';
  if (raw.length > limit) return { text: raw.slice(0, limit), size: raw.length, truncated: true };
  return { text: JSON.stringify(value, null, 2) ?? 'null', size: raw.length, truncated: false };
}

export const JOB_STATES = ['delayed', 'queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number] | 'blocked' | 'skipped';
export const FINAL_STATES: readonly string[] = ['succeeded', 'failed', 'cancelled', 'skipped'];
