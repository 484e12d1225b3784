/** Where each step of a workflow is drawn: a column per depth (longest chain of needs), rows in order. */
export interface DagStep {
  step: string;
  needs: string[];
}

export interface Placed {
  step: string;
  column: number;
  row: number;
}

export function layoutDag(steps: DagStep[]): { placed: Map<string, Placed>; columns: number; rows: number } {
  const byId = new Map(steps.map((s) => [s.step, s]));
  const depth = new Map<string, number>();
  // Iterative longest-path depth (the store refused cycles, but a page of steps may miss needs).
  const depthOf = (id: string): number => {
    const stack: string[] = [id];
    while (stack.length) {
      const top = stack[stack.length - 1] as string;
      if (depth.has(top)) {
        stack.pop();
        continue;
      }
      const needs = (byId.get(top)?.needs ?? []).filter((n) => byId.has(n));
      const missing = needs.filter((n) => !depth.has(n) && !stack.includes(n));
      if (missing.length) {
        stack.push(...missing);
        continue;
      }
      depth.set(
        top,
        needs.reduce((d, n) => Math.max(d, (depth.get(n) ?? 0) + 1), 0),
      );
      stack.pop();
    }
    return depth.get(id) ?? 0;
  };
  const rowsPerColumn: number[] = [];
  const placed = new Map<string, Placed>();
  for (const s of steps) {
    const column = depthOf(s.step);
    const row = rowsPerColumn[column] ?? 0;
    rowsPerColumn[column] = row + 1;
    placed.set(s.step, { step: s.step, column, row });
  }
  return { placed, columns: rowsPerColumn.length, rows: Math.max(0, ...rowsPerColumn) };
}
