import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SuiteLine } from './suite.js';
import { runSuiteTrace, suiteTexts, suiteTraces } from './suite.js';
import type { TraceVerdict } from './suite-goals.js';
import { judge, verdictTable } from './suite-goals.js';
import { baselineTable } from './suite-ratios.js';

export interface SuiteOptions {
  /** Suite traces to run (names as `10x8-batch`); all when absent. */
  only?: readonly string[];
  /** Priority settings to run each trace under (default both). */
  priorities?: readonly ('ignored' | 'honoured')[];
  /** Write the generated traces here as `NAME.jsonl` (for other tools or for a look). */
  writeTraces?: string;
  log?: (line: string) => void;
}

export class SuiteError extends Error {}

/**
 * `npm run bench -- packing --suite`: every trace of the suite under both priority settings and
 * the three conditions; the lines of every run, and on the log one table of Baton's ratios to
 * the baselines against the goals.
 */
export async function runSuite(
  options: SuiteOptions = {},
): Promise<{ lines: SuiteLine[]; verdicts: TraceVerdict[]; table: string }> {
  const log = options.log ?? (() => {});
  const known = suiteTraces().map((t) => t.name);
  const unknown = (options.only ?? []).filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new SuiteError(`unknown suite trace ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const texts = suiteTexts(options.only ? new Set(options.only) : undefined);
  if (options.writeTraces !== undefined) {
    await mkdir(options.writeTraces, { recursive: true });
    for (const { name, text } of texts) await writeFile(join(options.writeTraces, `${name}.jsonl`), text);
    log(`wrote ${texts.length} traces to ${options.writeTraces}`);
  }
  const priorities = options.priorities ?? ['ignored', 'honoured'];
  const lines: SuiteLine[] = [];
  const verdicts: TraceVerdict[] = [];
  const groups: SuiteLine[][] = [];
  const total = texts.length * priorities.length;
  let done = 0;
  for (const { name, text } of texts) {
    for (const p of priorities) {
      const started = performance.now();
      const runs = runSuiteTrace(text, name, p === 'ignored');
      lines.push(...runs);
      groups.push(runs);
      verdicts.push(judge(runs));
      done++;
      log(`[${done}/${total}] ${name}, priorities ${p}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  }
  log(`\n${baselineTable(groups)}`);
  const table = verdictTable(verdicts);
  log(`\n${table}`);
  return { lines, verdicts, table };
}
