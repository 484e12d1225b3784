import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { batonAlerts } from '../src/deploy/alerts.js';
import { desiredAgentsQuery } from '../src/deploy/k8s-autoscaler.js';
import { BATON_METRIC_NAMES, batonMetricOf, labelsOfSeries } from '../src/deploy/metrics.js';
import { REPO } from './deploy-fixtures.js';

/** Labels Prometheus adds to every scraped series from its target. */
const TARGET_LABELS = ['namespace'];

/**
 * Checks one PromQL expression against the metric list: every `baton_*` series is one the
 * server serves, every label a selector matches or an aggregation groups by is one the series
 * carry. Returns the metrics it uses.
 */
function checkQuery(expr: string): string[] {
  const series = [...expr.matchAll(/\bbaton_\w+/g)].map((m) => m[0]);
  for (const s of series) expect(batonMetricOf(s), `${s} in ${expr}`).not.toBeNull();
  const carried = new Set([...series.flatMap((s) => labelsOfSeries(s)), ...TARGET_LABELS]);
  for (const m of expr.matchAll(/\b(baton_\w+)\{([^}]*)\}/g)) {
    const allowed = new Set([...labelsOfSeries(m[1] ?? ''), ...TARGET_LABELS]);
    for (const l of (m[2] ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g))
      expect(allowed, `${l[1]} in ${expr}`).toContain(l[1]);
  }
  for (const m of expr.matchAll(/\bby \(([^)]*)\)/g))
    for (const l of (m[1] ?? '').split(',').map((x) => x.trim())) expect(carried, `by ${l} in ${expr}`).toContain(l);
  return series.map((s) => batonMetricOf(s) ?? s);
}

function panelsOf(dashboard: any): any[] {
  return dashboard.panels.flatMap((p: any) => [p, ...(p.panels ?? [])]);
}

describe('deploy/grafana/baton-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(`${REPO}deploy/grafana/baton-dashboard.json`, 'utf8'));

  it('queries only metrics and labels the server serves, and shows every one of them', () => {
    const exprs = panelsOf(dashboard).flatMap((p) => (p.targets ?? []).map((t: any) => String(t.expr)));
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set(exprs.flatMap(checkQuery));
    for (const v of dashboard.templating.list.filter((x: any) => x.type === 'query'))
      for (const name of checkQuery(String(v.query.query))) used.add(name);
    expect([...used].sort()).toEqual([...BATON_METRIC_NAMES].sort());
  });

  it('takes its Prometheus from ${DS_PROMETHEUS} and has pool and queue variables', () => {
    const vars = Object.fromEntries(dashboard.templating.list.map((v: any) => [v.name, v]));
    expect(vars.DS_PROMETHEUS).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.pool.query.query).toBe('label_values(baton_slots_capacity, pool)');
    expect(vars.queue.query.query).toBe('label_values(baton_jobs_pending, queue)');
    const panels = panelsOf(dashboard).filter((p) => p.type !== 'row');
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      for (const t of p.targets) expect(t.datasource).toEqual(p.datasource);
    }
    const ids = panelsOf(dashboard).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('the checker catches an unknown metric or a label the metric lacks', () => {
    expect(() => checkQuery('max(baton_jobs_pendin)')).toThrow();
    expect(() => checkQuery('max(baton_slots_used{queue="a"})')).toThrow();
    expect(() => checkQuery('max by (state) (baton_slots_used)')).toThrow();
  });
});

describe('the PrometheusRule alerts and the KEDA query', () => {
  it('use only metrics and labels the server serves', () => {
    const used = batonAlerts('baton').flatMap((a) => checkQuery(a.expr));
    expect(used).toHaveLength(5);
    expect(checkQuery(desiredAgentsQuery('baton', 'gpu'))).toEqual(['baton_desired_agents']);
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = readFileSync(`${REPO}deploy/Dockerfile`, 'utf8');

  it('installs every workspace of the root package.json and runs the CLI as a non-root user', () => {
    const workspaces: string[] = JSON.parse(readFileSync(`${REPO}package.json`, 'utf8')).workspaces;
    for (const w of workspaces) expect(dockerfile).toContain(`COPY ${w}/package.json ${w}/`);
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1] ?? '[]';
    const bin: string = JSON.parse(readFileSync(`${REPO}packages/cli/package.json`, 'utf8')).bin.baton;
    expect(JSON.parse(entrypoint)).toEqual(['/usr/bin/tini', '--', 'node', `packages/cli/${bin.replace(/^\.\//, '')}`]);
    expect(/^USER 1000:1000$/m.test(dockerfile)).toBe(true);
    expect(dockerfile.match(/^FROM node:20-bookworm-slim/gm)).toHaveLength(2);
  });
});
