import type { DemoWorkflowState } from './demo-workflow.js';
import { demoWorkflow, demoWorkflowLine } from './demo-workflow.js';

/**
 * The `--demo` workload: a small realistic mix (renders of varied length and priority, a
 * delayed report, a flaky step that exhausts its retries) and a document pipeline workflow
 * (demo-workflow.ts), submitted over the public API, with a line of progress as they run.
 */
export async function runDemo(baseUrl: string, adminToken: string, print: (line: string) => void): Promise<void> {
  // The admin's token, acting as the user `demo` (which admins may): the demo's jobs are demo's.
  const authorization = `Bearer ${adminToken}`;
  const jobs = [
    ...Array.from({ length: 8 }, (_, i) => ({ task: 'demo.sleep', payload: { ms: 300 + i * 150 } })),
    { task: 'demo.sleep', payload: { ms: 200 }, priority: 'high' },
    { task: 'demo.sleep', payload: { ms: 800 }, priority: 'low' },
    { task: 'demo.sleep', payload: { ms: 300 }, delayMs: 1500 },
    { task: 'demo.fail', payload: { message: 'upstream service unavailable' }, maxAttempts: 3, backoffMs: 300 },
  ];
  const response = await fetch(`${baseUrl}/api/jobs/bulk`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization, 'x-baton-user': 'demo' },
    body: JSON.stringify({ jobs }),
  });
  if (!response.ok) {
    print(`demo: submission failed: ${response.status} ${await response.text()}`);
    return;
  }
  const { jobs: created } = (await response.json()) as { jobs: { id: string }[] };
  print(
    `demo: submitted ${created.length} jobs (sleeps, a high and a low priority one, a delayed one, one that always fails)`,
  );
  const headers = { 'content-type': 'application/json', authorization, 'x-baton-user': 'demo' };
  const submitted = await fetch(`${baseUrl}/api/workflows`, {
    method: 'POST',
    headers,
    body: JSON.stringify(demoWorkflow()),
  });
  if (!submitted.ok) {
    print(`demo: workflow submission failed: ${submitted.status} ${await submitted.text()}`);
    return;
  }
  const workflowId = ((await submitted.json()) as { id: string }).id;
  print(`demo: submitted workflow ${workflowId}: extract → ocr of each page (a fan-out) → index (a fan-in)`);
  let last = '';
  let lastWorkflow = '';
  let workflowDone = false;
  for (;;) {
    if (!workflowDone) {
      const r = await fetch(`${baseUrl}/api/workflows/${workflowId}`, {
        headers: { authorization, 'x-baton-user': 'demo' },
      });
      const w = (await r.json()) as DemoWorkflowState;
      const line = demoWorkflowLine(w);
      if (line !== lastWorkflow) print((lastWorkflow = line));
      workflowDone = w.state !== 'running';
    }
    const states = await Promise.all(
      created.map(async ({ id }) => {
        const r = await fetch(`${baseUrl}/api/jobs/${id}`, { headers: { authorization, 'x-baton-user': 'demo' } });
        return ((await r.json()) as { state: string }).state;
      }),
    );
    const count = (s: string) => states.filter((x) => x === s).length;
    const finished = count('succeeded') + count('failed') + count('cancelled');
    const line = `demo: ${finished}/${states.length} finished — ${count('succeeded')} succeeded, ${count('failed')} failed, ${count('running')} running, ${count('queued') + count('assigned')} queued, ${count('delayed')} delayed`;
    if (line !== last) print((last = line));
    if (finished === states.length && workflowDone) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  print('demo: done. The failed job is demo.fail: it always throws, so it was retried with backoff and then');
  print('      dead-lettered, as designed. Its history: npx baton jobs --state failed, then npx baton job ID');
  print(`demo: the workflow's steps: npx baton workflow ${workflowId}`);
  print(`demo: browse ${baseUrl}/api/jobs or run: npx baton jobs`);
}
