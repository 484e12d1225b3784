/** A job's (or workflow's) state as a coloured word: the colour helps, the word carries it. */
export function StateBadge(props: { state: string }) {
  return <span class={`badge state-${props.state}`}>{props.state}</span>;
}
