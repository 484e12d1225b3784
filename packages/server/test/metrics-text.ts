/**
 * A strict reader of the Prometheus text format (0.0.4) for tests: every line is a `# HELP`
 * or `# TYPE` comment or a sample `name{label="value",…} value`, else it throws, naming the line.
 */
export interface Exposition {
  /** Sample value by `name{labels}` with labels sorted by name (`name` alone when none). */
  samples: Map<string, number>;
  /** Metric type by family name, from `# TYPE`. */
  types: Map<string, string>;
  /** The value of one sample, or undefined when the exposition has none such. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of a metric name, with its labels. */
  series(name: string): { labels: Record<string, string>; value: number }[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)/;

export function keyOf(name: string, labels: Record<string, string> = {}): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return name;
  return `${name}{${names.map((n) => `${n}=${JSON.stringify(labels[n])}`).join(',')}}`;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    if (!m) throw new Error(`bad labels in line: ${line}`);
    const [whole, name, raw] = m as unknown as [string, string, string];
    if (name in labels) throw new Error(`label ${name} twice in line: ${line}`);
    labels[name] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole.length);
  }
  return labels;
}

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  // Prometheus reads values as Go's ParseFloat does, ignoring case: prom-client writes `Nan`.
  if (text.toLowerCase() === 'nan') return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) throw new Error(`bad value in line: ${line}`);
  return Number(text);
}

export function parseExposition(text: string): Exposition {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const labelled = new Map<string, { labels: Record<string, string>; value: number }[]>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`).exec(line);
      if (!m) throw new Error(`bad comment line: ${line}`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3] ?? '')) {
          throw new Error(`bad type in line: ${line}`);
        }
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const name = m[1]!;
    const labels = m[2] === undefined ? {} : parseLabels(m[2], line);
    const value = parseValue(m[3]!, line);
    const key = keyOf(name, labels);
    if (samples.has(key)) throw new Error(`sample twice: ${key}`);
    samples.set(key, value);
    let list = labelled.get(name);
    if (!list) labelled.set(name, (list = []));
    list.push({ labels, value });
  }
  return {
    samples,
    types,
    value: (name, labels) => samples.get(keyOf(name, labels)),
    series: (name) => labelled.get(name) ?? [],
  };
}
