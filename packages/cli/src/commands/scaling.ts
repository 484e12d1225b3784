import type { Command } from 'commander';
import type { ScalingView } from '@baton/client';
import { table } from '../format.js';
import type { ConnectionOptions } from './connection.js';
import { api, clientFor, printJson, withConnection } from './connection.js';

interface ScalingFlags extends ConnectionOptions {
  watch: boolean;
}

const WATCH_MS = 2000;

export function registerScalingCommand(program: Command): void {
  withConnection(
    program
      .command('scaling')
      .description("show each pool's agents now and wanted, and why (the server's baton.yaml pools)")
      .option('--watch', `print again every ${WATCH_MS / 1000} s until interrupted`, false),
  ).action(async (flags: ScalingFlags) => {
    const client = clientFor(flags);
    for (;;) {
      const view = await api(client.scaling());
      if (flags.json) printJson(view);
      else process.stdout.write(`${scalingText(view, Date.now())}\n`);
      if (!flags.watch) return;
      await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
      if (!flags.json) process.stdout.write('\n');
    }
  });
}

/** The decisions as a table, each pool's reason under it. */
export function scalingText(view: ScalingView, now: number): string {
  if (!view.configured) return 'no pools configured: start the server with --config baton.yaml to decide scaling';
  const rows = view.pools.map((p) =>
    [
      p.pool,
      String(p.current),
      String(p.desired),
      `${p.min}–${p.max}`,
      `${p.load} ${p.unit}`,
      String(p.pendingJobs),
      p.lastScaleAt === null ? '-' : `${Math.max(0, Math.round((now - p.lastScaleAt) / 1000))} s ago`,
    ].concat(p.busyKept > 0 ? [`${p.busyKept} busy kept`] : []),
  );
  const out = [table(['POOL', 'CURRENT', 'DESIRED', 'MIN–MAX', 'LOAD', 'PENDING', 'LAST SCALE'], rows), ''];
  for (const p of view.pools) out.push(`${p.pool}: ${p.reason}`);
  if (view.unplaceable > 0) out.push(`${view.unplaceable} pending job(s) fit no configured pool`);
  const stranded = Object.entries(view.strandedGpus).filter(([, n]) => n > 0);
  if (stranded.length > 0) out.push(`stranded GPUs: ${stranded.map(([pool, n]) => `${pool} ${n}`).join(', ')}`);
  return out.join('\n');
}
