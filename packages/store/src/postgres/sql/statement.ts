/**
 * A statement the store runs by name: `pg` prepares it once per connection and reuses the plan.
 * Every text starts with a `-- Params:` comment; parameters are cast explicitly, so their
 * types never depend on the values of the first call.
 *
 * Plans. The store's connections plan every statement once, generically (`plan_cache_mode =
 * force_generic_plan`, see PLANNER_SETTINGS in ../postgres-store.ts): planning a statement over
 * 16 partitions costs more than running it. So each statement is written for a plan that does
 * not depend on parameter values or on statistics, and a call costs work in proportion to the
 * jobs it handles, never to the backlog:
 *
 * - A job found by id is probed with `CROSS JOIN LATERAL (SELECT … FROM jobs WHERE id = x.id
 *   LIMIT 1)`: a nested loop whose inner Append is pruned at run time to the one partition the
 *   id hashes to, then an index probe there. (`id = ANY($1)` cannot be pruned when $1 is a
 *   parameter: it searches every partition's index for every id, and a join on id may be
 *   planned as a hash join over whole partitions.)
 * - Jobs named by id are locked by a plain join of the ids (sorted by id where batches could
 *   otherwise deadlock) to `jobs` on id, under the statement's own `FOR UPDATE OF j`: the same
 *   nested loop of pruned index probes, below one LockRows. Never lock inside the probe
 *   (`LATERAL (… LIMIT 1 FOR UPDATE)`): under READ COMMITTED, a row that a transaction
 *   committed after the statement's snapshot is rechecked (EvalPlanQual), and the recheck of a
 *   probe that its LIMIT stopped early can reuse the partition an earlier outer row pruned to
 *   and find no row (PostgreSQL 15: ~11% of concurrently heartbeated items came back
 *   NOT_FOUND). A statement-level lock rechecks the whole join, which prunes again.
 * - An UPDATE or DELETE of such jobs joins them on id. Its join method cannot be forced in SQL;
 *   the connection's planner settings leave it the nested loop of index probes.
 * - Queue heads, due jobs and expired leases are read through their partial indexes, in index
 *   order under a LIMIT (a Merge Append of the partitions' index scans).
 */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

export const statement = (name: string, text: string): Statement => ({ name: `baton_${name}`, text: text.trim() });
