/**
 * A binary min-heap of agents for placement, ordered by a number and then by agent index (the
 * agents are indexed in id order, so ties break by id). Entries are never updated in place:
 * when an agent's free capacity changes its version goes up and a fresh entry is pushed, and
 * the old one is recognized as stale (version mismatch) and dropped when it reaches the top.
 */
export class AgentHeap {
  private readonly keys: number[] = [];
  private readonly agents: number[] = [];
  private readonly versions: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** Key of the top entry; only valid when `size > 0`. */
  topKey(): number {
    return this.keys[0]!;
  }

  topAgent(): number {
    return this.agents[0]!;
  }

  topVersion(): number {
    return this.versions[0]!;
  }

  push(key: number, agent: number, version: number): void {
    const { keys, agents, versions } = this;
    let i = keys.length;
    keys.push(key);
    agents.push(agent);
    versions.push(version);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = keys[parent]!;
      if (pk < key || (pk === key && agents[parent]! < agent)) break;
      keys[i] = pk;
      agents[i] = agents[parent]!;
      versions[i] = versions[parent]!;
      i = parent;
    }
    keys[i] = key;
    agents[i] = agent;
    versions[i] = version;
  }

  /** Removes the top entry. */
  pop(): void {
    const { keys, agents, versions } = this;
    const key = keys.pop()!;
    const agent = agents.pop()!;
    const version = versions.pop()!;
    const n = keys.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && (keys[r]! < keys[l]! || (keys[r] === keys[l] && agents[r]! < agents[l]!))) c = r;
      const ck = keys[c]!;
      if (key < ck || (key === ck && agent < agents[c]!)) break;
      keys[i] = ck;
      agents[i] = agents[c]!;
      versions[i] = versions[c]!;
      i = c;
    }
    keys[i] = key;
    agents[i] = agent;
    versions[i] = version;
  }
}
