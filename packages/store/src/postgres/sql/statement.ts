/**
 * A statement the store runs by name: `pg` prepares it once per connection and reuses the plan.
 * Every text starts with a `-- Params:` comment; parameters are cast explicitly, so their
 * types never depend on the values of the first call.
 */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

export const statement = (name: string, text: string): Statement => ({ name: `baton_${name}`, text: text.trim() });
