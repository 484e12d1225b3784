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

/** Iterations the demo campaign runs: each adds three evaluations, a training and the next proposal. */
export const DEMO_ITERATIONS = 3;

/**
 * The demo's campaign, a workflow that grows while it runs: it starts as one `demo.propose`
 * step, which adds an iteration (evaluations, training, the next proposal) until
 * {@link DEMO_ITERATIONS} have run; then the last proposal adds nothing and it ends, with
 * 1 + 5 × iterations steps.
 */
export function demoCampaign(): { name: string; maxSteps: number; steps: Record<string, unknown>[] } {
  return {
    name: 'campaign',
    // A bound on the loop, as a campaign should have: the store refuses growth past it.
    maxSteps: 1 + 5 * DEMO_ITERATIONS,
    steps: [{ id: 'propose-1', task: 'demo.propose', payload: { iteration: 1, iterations: DEMO_ITERATIONS, ms: 150 } }],
  };
}

/** What the demo needs of `GET /api/workflows/:id`. */
export interface DemoWorkflowState {
  state: string;
  counts: { steps: number; succeeded: number; failed: number; cancelled: number; skipped: number };
  steps: { step: string; state: string }[];
}

/**
 * One line of a workflow's progress: how many steps finished, and each step's state (of a
 * longer workflow, such as the grown campaign, only those not yet succeeded).
 */
export function demoWorkflowLine(name: string, w: DemoWorkflowState): string {
  const { steps, succeeded, failed, cancelled, skipped } = w.counts;
  const shown = w.steps.length <= 6 ? w.steps : w.steps.filter((s) => s.state !== 'succeeded');
  const each = shown.map((s) => `${s.step} ${s.state}`).join(', ');
  const finished = succeeded + failed + cancelled + skipped;
  return `demo: workflow ${name} ${w.state}: ${finished}/${steps} steps finished${each ? ` (${each})` : ''}`;
}
