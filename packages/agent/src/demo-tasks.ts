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

export const demoTasks = [demoSleep, demoFail, demoEcho, demoExtract, demoOcr, demoIndex] as const;

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
