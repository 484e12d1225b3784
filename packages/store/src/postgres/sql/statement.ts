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
 *   planned as a hash join over whole partitions.) Locks are taken in the same probe
 *   (`LIMIT 1 FOR UPDATE`), in id order where batches could otherwise deadlock.
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
