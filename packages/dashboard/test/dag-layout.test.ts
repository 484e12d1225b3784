import { describe, expect, it } from 'vitest';
import { layoutDag } from '../src/pages/dag-layout.js';

describe('the workflow graph layout', () => {
  it('puts each step one column right of its deepest need, rows in order within a column', () => {
    const { placed, columns, rows } = layoutDag([
      { step: 'extract', needs: [] },
      { step: 'ocr-1', needs: ['extract'] },
      { step: 'ocr-2', needs: ['extract'] },
      { step: 'index', needs: ['ocr-1', 'ocr-2'] },
      { step: 'report', needs: ['extract', 'index'] },
    ]);
    expect([...placed.values()].map((p) => [p.step, p.column, p.row])).toEqual([
      ['extract', 0, 0],
      ['ocr-1', 1, 0],
      ['ocr-2', 1, 1],
      ['index', 2, 0],
      ['report', 3, 0],
    ]);
    expect({ columns, rows }).toEqual({ columns: 4, rows: 2 });
  });

  it('draws a page of steps whose needs lie outside it, and steps listed before their needs', () => {
    const { placed } = layoutDag([
      { step: 'b', needs: ['a', 'not-on-this-page'] },
      { step: 'a', needs: [] },
    ]);
    expect(placed.get('a')?.column).toBe(0);
    expect(placed.get('b')?.column).toBe(1);
  });

  it('lays out a 10 000-step chain without recursion', () => {
    const steps = Array.from({ length: 10_000 }, (_, i) => ({ step: `s${i}`, needs: i ? [`s${i - 1}`] : [] }));
    const { placed, columns } = layoutDag(steps.reverse());
    expect(columns).toBe(10_000);
    expect(placed.get('s9999')?.column).toBe(9999);
  });

  it('survives a cycle (which the API refuses) instead of looping', () => {
    const { placed } = layoutDag([
      { step: 'a', needs: ['b'] },
      { step: 'b', needs: ['a'] },
    ]);
    expect(placed.size).toBe(2);
  });
});
