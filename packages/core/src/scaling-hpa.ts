import type { ScalingRules } from './pools-config.js';

/**
 * The steps of the Kubernetes HPA's replica calculation (pkg/controller/podautoscaler), as pure
 * functions, so a pool scales locally exactly as its HPA would in a cluster: the usage ratio
 * with a tolerance, stabilization windows over past recommendations, and rate policies over
 * past scale events.
 */

/** A recommendation made at a time (ms), kept for the stabilization windows. */
export interface Recommendation {
  at: number;
  replicas: number;
}

/** A change of replicas made at a time (ms), kept for the rate policies. */
export interface ScaleEvent {
  at: number;
  change: number;
}

/**
 * Replicas for a load: `ceil(load / (unitsPerAgent × target))`, unless the usage ratio against
 * `replicas` is within the tolerance, which keeps `replicas` (no churn for a load that
 * wobbles about the target).
 */
export function recommendReplicas(
  replicas: number,
  load: number,
  unitsPerAgent: number,
  targetUtilization: number,
  tolerance: number,
): number {
  const wanted = load / (unitsPerAgent * targetUtilization);
  if (replicas === 0) return Math.ceil(wanted);
  const ratio = wanted / replicas;
  if (Math.abs(ratio - 1) <= tolerance) return replicas;
  return Math.ceil(wanted);
}

/**
 * The HPA's stabilization: a scale-up goes only as far as the lowest recommendation within the
 * scale-up window, a scale-down only as far as the highest within the scale-down window. With
 * the defaults (0 s up, 300 s down) it scales up at once and down only once the load has stayed
 * low for five minutes, which is what suppresses flapping.
 */
export function stabilize(
  replicas: number,
  recommendation: number,
  history: readonly Recommendation[],
  now: number,
  up: ScalingRules,
  down: ScalingRules,
): number {
  let upRecommendation = recommendation;
  let downRecommendation = recommendation;
  const upCutoff = now - up.stabilizationWindowSeconds * 1000;
  const downCutoff = now - down.stabilizationWindowSeconds * 1000;
  for (const r of history) {
    if (r.at > upCutoff) upRecommendation = Math.min(upRecommendation, r.replicas);
    if (r.at > downCutoff) downRecommendation = Math.max(downRecommendation, r.replicas);
  }
  let result = replicas;
  if (result < upRecommendation) result = upRecommendation;
  if (result > downRecommendation) result = downRecommendation;
  return result;
}

/** The most replicas the scale-up policies allow now, given the scale-ups already made. */
export function scaleUpLimit(
  replicas: number,
  events: readonly ScaleEvent[],
  now: number,
  rules: ScalingRules,
): number {
  if (rules.selectPolicy === 'Disabled') return replicas;
  let result = rules.selectPolicy === 'Max' ? -Infinity : Infinity;
  for (const policy of rules.policies) {
    const added = changesSince(events, now - policy.periodSeconds * 1000, 1);
    const periodStart = replicas - added;
    const proposed =
      policy.type === 'Pods' ? periodStart + policy.value : Math.ceil(periodStart * (1 + policy.value / 100));
    result = rules.selectPolicy === 'Max' ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return Math.max(result, replicas);
}

/** The fewest replicas the scale-down policies allow now, given the scale-downs already made. */
export function scaleDownLimit(
  replicas: number,
  events: readonly ScaleEvent[],
  now: number,
  rules: ScalingRules,
): number {
  if (rules.selectPolicy === 'Disabled') return replicas;
  let result = rules.selectPolicy === 'Max' ? Infinity : -Infinity;
  for (const policy of rules.policies) {
    const removed = changesSince(events, now - policy.periodSeconds * 1000, -1);
    const periodStart = replicas + removed;
    const proposed =
      policy.type === 'Pods' ? periodStart - policy.value : Math.trunc(periodStart * (1 - policy.value / 100));
    result = rules.selectPolicy === 'Max' ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return Math.min(Math.max(result, 0), replicas);
}

/** The replicas added (sign 1) or removed (sign -1) by events after `since`. */
function changesSince(events: readonly ScaleEvent[], since: number, sign: 1 | -1): number {
  let total = 0;
  for (const e of events) if (e.at > since && Math.sign(e.change) === sign) total += Math.abs(e.change);
  return total;
}
