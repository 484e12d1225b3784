import type { SuiteLine } from './suite.js';

/**
 * Baton against each baseline, per trace and priority setting: Baton's mean wait, p99 wait of
 * the largest size and utilization over each baseline's, under the same condition where the
 * baseline uses it (EASY plans with the x2 limits Baton gets there; the others know nothing of
 * runtimes, as Baton under `none`).
 */
export function baselineTable(groups: readonly (readonly SuiteLine[])[]): string {
  const head = ['trace', 'prio', 'vs', 'mean', 'p99L', 'util'];
  const rows: string[][] = [];
  for (const lines of groups) {
    const first = lines[0]!;
    const find = (system: string, condition: string) =>
      lines.find((l) => l.system === system && l.condition === condition);
    const largest = String(Math.max(...Object.keys(first.p99_wait_s_by_gpus).map(Number)));
    const pairs: [string, SuiteLine | undefined, SuiteLine | undefined][] = [
      ['fifo', find('baton', 'none'), find('fifo', 'none')],
      ['first-fit', find('baton', 'none'), find('first-fit', 'none')],
      ['best-fit', find('baton', 'none'), find('best-fit', 'none')],
      ['easy (x2)', find('baton', 'x2'), find('easy', 'x2')],
    ];
    for (const [name, baton, base] of pairs) {
      if (!baton || !base) continue;
      const ratio = (a: number | null | undefined, b: number | null | undefined) =>
        a === null || a === undefined || b === null || b === undefined || b === 0 ? '-' : (a / b).toFixed(3);
      rows.push([
        first.trace,
        first.priorities === 'ignored' ? 'ign' : 'hon',
        name,
        ratio(baton.mean_wait_s, base.mean_wait_s),
        ratio(baton.p99_wait_s_by_gpus[largest], base.p99_wait_s_by_gpus[largest]),
        ratio(baton.utilization, base.utilization),
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const render = (cells: string[]) =>
    cells.map((c, i) => (i <= 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    'Baton over each baseline (below 1: Baton waits less; util above 1: Baton keeps GPUs busier):',
    render(head),
    ...rows.map(render),
  ].join('\n');
}
