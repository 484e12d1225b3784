import type { Condition, SuiteLine } from './suite.js';

/**
 * The goals, checked per trace and priority setting from the suite's lines, as ratios of
 * Baton's figure to the reference's. Waits get an absolute slack of {@link WAIT_SLACK_S}: on a
 * lightly loaded trace both sides wait a few seconds and a ratio of near-zeros means nothing.
 */

export const WAIT_SLACK_S = 1;

export interface GoalCheck {
  /** Short name, as the table's column. */
  goal: string;
  /** Baton's figure over the reference's (null when undefined: no such jobs, or a zero). */
  ratio: number | null;
  /** The bound the ratio must stay within (≤, or ≥ for utilization). */
  bound: number;
  met: boolean;
}

export interface TraceVerdict {
  trace: string;
  priorities: 'ignored' | 'honoured';
  /** The largest GPU size in the trace: the p99 goals are on its jobs. */
  largest: number;
  checks: GoalCheck[];
}

export function judge(lines: readonly SuiteLine[]): TraceVerdict {
  const first = lines[0]!;
  const find = (system: string, condition: Condition) => {
    const line = lines.find((l) => l.system === system && l.condition === condition);
    if (!line) throw new Error(`the suite lacks ${system} under ${condition} for ${first.trace}`);
    return line;
  };
  const baton = find('baton', 'none');
  const bestFit = find('best-fit', 'none');
  const firstFit = find('first-fit', 'none');
  const batonX2 = find('baton', 'x2');
  const easy = find('easy', 'x2');
  const learned = find('baton', 'learned');
  const largest = Math.max(...Object.keys(baton.p99_wait_s_by_gpus).map(Number));
  const p99L = (l: SuiteLine) => l.p99_wait_s_by_gpus[String(largest)] ?? null;
  const checks: GoalCheck[] = [];
  const atMost = (goal: string, mine: number | null, theirs: number | null, bound: number, slack = WAIT_SLACK_S) => {
    if (mine === null || theirs === null) return checks.push({ goal, ratio: null, bound, met: mine === null });
    const met = mine <= theirs * bound + slack;
    checks.push({ goal, ratio: theirs > 0 ? mine / theirs : null, bound, met });
  };
  const bestUtil = Math.max(firstFit.utilization ?? 0, bestFit.utilization ?? 0);
  const util = baton.utilization ?? 0;
  checks.push({
    goal: 'util/best',
    ratio: bestUtil > 0 ? util / bestUtil : null,
    bound: 0.99,
    met: util >= 0.99 * bestUtil,
  });
  atMost(
    'mean/best',
    baton.mean_wait_s,
    Math.min(firstFit.mean_wait_s ?? Infinity, bestFit.mean_wait_s ?? Infinity),
    1.01,
  );
  atMost('p99L/ff', p99L(baton), p99L(firstFit), 0.8);
  atMost('x2 mean/bf', batonX2.mean_wait_s, bestFit.mean_wait_s, 1);
  atMost('x2 mean/easy', batonX2.mean_wait_s, easy.mean_wait_s, 1);
  atMost('x2 p99L/ff', p99L(batonX2), p99L(firstFit), 0.5);
  if (batonX2.makespan_ratio !== undefined) atMost('x2 makespan/LB', batonX2.makespan_ratio, 1, 1.03, 0);
  atMost('learned mean/x2', learned.mean_wait_s, batonX2.mean_wait_s, 1.05);
  atMost('learned p99L/x2', p99L(learned), p99L(batonX2), 1.05);
  if (learned.makespan_ratio !== undefined && batonX2.makespan_ratio !== undefined) {
    atMost('learned makespan/x2', learned.makespan_ratio, batonX2.makespan_ratio, 1.05, 0);
  }
  return { trace: first.trace, priorities: first.priorities === 'ignored' ? 'ignored' : 'honoured', largest, checks };
}

const COLUMNS = [
  'util/best',
  'mean/best',
  'p99L/ff',
  'x2 mean/bf',
  'x2 mean/easy',
  'x2 p99L/ff',
  'x2 makespan/LB',
  'learned mean/x2',
  'learned p99L/x2',
  'learned makespan/x2',
];

/** One table for people: a row per trace and priority setting, ratios, `*` where a goal is missed. */
export function verdictTable(verdicts: readonly TraceVerdict[]): string {
  const head = ['trace', 'prio', 'L', ...COLUMNS, 'missed'];
  const rows = verdicts.map((v) => {
    const cells = COLUMNS.map((c) => {
      const check = v.checks.find((k) => k.goal === c);
      if (!check) return '-';
      const text = check.ratio === null ? (check.met ? 'ok' : 'n/a') : check.ratio.toFixed(3);
      return check.met ? text : `${text}*`;
    });
    const missed = v.checks.filter((k) => !k.met).length;
    return [v.trace, v.priorities === 'ignored' ? 'ign' : 'hon', String(v.largest), ...cells, String(missed)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const render = (cells: string[]) =>
    cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const goals =
    'goals: util/best ≥ 0.99, mean/best ≤ 1.01, p99L/ff ≤ 0.8 (no limits); x2 mean/bf ≤ 1, x2 mean/easy ≤ 1, ' +
    'x2 p99L/ff ≤ 0.5, x2 makespan/LB ≤ 1.03 (batch); learned ≤ 1.05 × x2. Waits get 1 s of slack. ' +
    'L: the largest GPU size (the p99 goals are on its jobs). * = missed.';
  const total = verdicts.reduce((a, v) => a + v.checks.length, 0);
  const met = verdicts.reduce((a, v) => a + v.checks.filter((k) => k.met).length, 0);
  return [render(head), ...rows.map(render), goals, `goals met: ${met} of ${total}`].join('\n');
}
