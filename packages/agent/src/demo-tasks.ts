import type { StepSpec } from '@baton/core';
import { defineTask } from './task.js';

/**
 * Tasks every `baton dev` registers, so docs, tests and newcomers can rely on them.
 * All are in queue `default`.
 */

/** Waits `ms` (default 1000), reporting progress; returns `{ sleptMs }`. */
export const demoSleep = defineTask('demo.sleep', async (payload: { ms?: number } | null, ctx) => {
  const ms = Math.max(0, Math.min(Number(payload?.ms ?? 1000) || 0, 3_600_000));
  const steps = Math.min(10, Math.max(1, Math.ceil(ms / 100)));
  for (let i = 1; i <= steps; i++) {
    await sleep(ms / steps, ctx.signal);
    ctx.progress((i / steps) * 100);
  }
  return { sleptMs: ms };
});

/** Always throws a retryable error, to show retries with backoff and the dead letter state. */
export const demoFail = defineTask('demo.fail', async (payload: { message?: string } | null) => {
  throw new Error(payload?.message ?? 'demo.fail failed, as it always does');
});

/** Returns its payload at once: the no-op used by the throughput benchmark. */
export const demoEcho = defineTask('demo.echo', async (payload: unknown) => payload);

/**
 * The demo document pipeline (a workflow: extract → ocr per page → index). `demo.extract`
 * "splits" a document into pages; each `demo.ocr` step reads its page; `demo.index` gathers
 * every OCR step's text from its inputs. Each waits `ms` (default 200) to be seen running.
 */
export const demoExtract = defineTask(
  'demo.extract',
  async (payload: { document?: string; pages?: number; ms?: number } | null, ctx) => {
    await sleep(msOf(payload?.ms), ctx.signal);
    const pages = Math.max(1, Math.min(Number(payload?.pages ?? 3) || 1, 100));
    return { document: String(payload?.document ?? 'document.pdf'), pages };
  },
);

/** OCR of one page (`payload.page`), of the document its `extract` input names. */
export const demoOcr = defineTask('demo.ocr', async (payload: { page?: number; ms?: number } | null, ctx) => {
  await sleep(msOf(payload?.ms), ctx.signal);
  const page = Number(payload?.page ?? 1);
  const extracted = ctx.inputs.extract as { document?: string } | undefined;
  return { page, text: `text of page ${page} of ${extracted?.document ?? 'the document'}` };
});

/** Indexes what every OCR step it needs returned: its inputs, by step id. */
export const demoIndex = defineTask('demo.index', async (payload: { ms?: number } | null, ctx) => {
  await sleep(msOf(payload?.ms), ctx.signal);
  const pages = Object.values(ctx.inputs).filter(
    (v): v is { page: number; text: string } => typeof v === 'object' && v !== null && 'text' in v,
  );
  const words = pages.reduce((n, p) => n + String(p.text).split(/\s+/).length, 0);
  return { indexed: pages.length, words };
});

/**
 * The demo campaign (a workflow that grows while it runs): `demo.propose` proposes candidates
 * and, while iterations are left, adds the next iteration to its workflow: an `demo.evaluate`
 * step per candidate, a `demo.train` step on their scores, and the next `demo.propose`. The
 * last propose adds nothing, and the workflow ends.
 */
export const DEMO_CANDIDATES = ['a', 'b', 'c'] as const;

/** The steps of iteration `i`, added by step `propose-i`: evaluations, training, the next propose. */
export function campaignIteration(i: number, iterations: number, ms = 100): StepSpec[] {
  const evaluations = DEMO_CANDIDATES.map((c) => `evaluate-${i}-${c}`);
  return [
    ...DEMO_CANDIDATES.map((candidate, k) => ({
      id: evaluations[k]!,
      task: 'demo.evaluate',
      payload: { candidate, ms },
      needs: [`propose-${i}`],
    })),
    { id: `train-${i}`, task: 'demo.train', payload: { iteration: i, ms }, needs: evaluations },
    {
      id: `propose-${i + 1}`,
      task: 'demo.propose',
      payload: { iteration: i + 1, iterations, ms },
      needs: [`train-${i}`],
    },
  ];
}

/** Proposes a learning rate from the last training's best (its input); adds the next iteration while one is left. */
export const demoPropose = defineTask(
  'demo.propose',
  async (payload: { iteration?: number; iterations?: number; ms?: number } | null, ctx) => {
    await sleep(msOf(payload?.ms), ctx.signal);
    const iteration = Math.max(1, Number(payload?.iteration ?? 1) || 1);
    const iterations = Math.max(0, Math.min(Number(payload?.iterations ?? 3) || 0, 100));
    const trained = ctx.inputs[`train-${iteration - 1}`] as { best?: { score?: number } } | undefined;
    const learningRate = 0.1 / iteration;
    if (iteration > iterations || !ctx.workflow) return { iteration, learningRate, done: true, best: trained?.best };
    try {
      await ctx.workflow.add(campaignIteration(iteration, iterations, msOf(payload?.ms)));
    } catch (err) {
      // A retry of this step (its last attempt added the iteration, then was lost) finds it added.
      if ((err as { code?: unknown }).code !== 'DUPLICATE_STEP') throw err;
    }
    return { iteration, learningRate, done: false };
  },
);

/** Scores one candidate of the proposal (its input): deterministic, so the demo reads the same every run. */
export const demoEvaluate = defineTask(
  'demo.evaluate',
  async (payload: { candidate?: string; ms?: number } | null, ctx) => {
    await sleep(msOf(payload?.ms), ctx.signal);
    const proposal = Object.values(ctx.inputs)[0] as { iteration?: number; learningRate?: number } | undefined;
    const candidate = String(payload?.candidate ?? 'a');
    const score = Math.round((1 - (proposal?.learningRate ?? 0.1)) * 100 + (candidate.charCodeAt(0) % 7)) / 100;
    return { candidate, iteration: proposal?.iteration ?? null, score };
  },
);

/** Keeps the best-scoring candidate of its inputs (the iteration's evaluations). */
export const demoTrain = defineTask('demo.train', async (payload: { iteration?: number; ms?: number } | null, ctx) => {
  await sleep(msOf(payload?.ms), ctx.signal);
  const scores = Object.values(ctx.inputs).filter(
    (v): v is { candidate: string; score: number } => typeof v === 'object' && v !== null && 'score' in v,
  );
  const best = scores.reduce<{ candidate: string; score: number } | null>(
    (b, s) => (b && b.score >= s.score ? b : s),
    null,
  );
  return { iteration: Number(payload?.iteration ?? 0), evaluated: scores.length, best };
});

export const demoTasks = [
  demoSleep,
  demoFail,
  demoEcho,
  demoExtract,
  demoOcr,
  demoIndex,
  demoPropose,
  demoEvaluate,
  demoTrain,
] as const;

function msOf(ms: unknown): number {
  return Math.max(0, Math.min(Number(ms ?? 200) || 0, 60_000));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
