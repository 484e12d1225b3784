/**
 * The demo's workflow: a small document pipeline over the demo tasks, `demo.extract` splitting
 * a document into pages, one `demo.ocr` step per page (a fan-out), and `demo.index` gathering
 * their text (a fan-in), each step taking its needs' results as inputs.
 */
export const DEMO_PAGES = 3;

export function demoWorkflow(): { name: string; steps: Record<string, unknown>[] } {
  const ocr = Array.from({ length: DEMO_PAGES }, (_, i) => `ocr-${i + 1}`);
  return {
    name: 'document-pipeline',
    steps: [
      { id: 'extract', task: 'demo.extract', payload: { document: 'invoice.pdf', pages: DEMO_PAGES, ms: 300 } },
      ...ocr.map((id, i) => ({
        id,
        task: 'demo.ocr',
        payload: { page: i + 1, ms: 300 + i * 100 },
        needs: ['extract'],
      })),
      { id: 'index', task: 'demo.index', payload: { ms: 200 }, needs: ocr },
    ],
  };
}

/** What the demo needs of `GET /api/workflows/:id`. */
export interface DemoWorkflowState {
  state: string;
  counts: { steps: number; succeeded: number; failed: number; cancelled: number; skipped: number };
  steps: { step: string; state: string }[];
}

/** One line of the workflow's progress: how many steps finished, and each step's state. */
export function demoWorkflowLine(w: DemoWorkflowState): string {
  const { steps, succeeded, failed, cancelled, skipped } = w.counts;
  const each = w.steps.map((s) => `${s.step} ${s.state}`).join(', ');
  return `demo: workflow document-pipeline ${w.state}: ${succeeded + failed + cancelled + skipped}/${steps} steps finished (${each})`;
}
