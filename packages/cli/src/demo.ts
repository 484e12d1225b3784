import type { DemoWorkflowState } from './demo-workflow.js';
import { demoCampaign, demoWorkflow, demoWorkflowLine } from './demo-workflow.js';

/**
 * The `--demo` workload: a small realistic mix (renders of varied length and priority, a
 * delayed report, a flaky step that exhausts its retries), a document pipeline workflow and a
 * campaign that grows while it runs (demo-workflow.ts), submitted over the public API, with a
 * line of progress as they run.
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
  const workflows: { name: string; id: string; line: string; done: boolean }[] = [];
  for (const [body, what] of [
    [demoWorkflow(), 'extract → ocr of each page (a fan-out) → index (a fan-in)'],
    [demoCampaign(), 'propose, which adds evaluations, a training and the next propose while iterations are left'],
  ] as const) {
    const submitted = await fetch(`${baseUrl}/api/workflows`, { method: 'POST', headers, body: JSON.stringify(body) });
    if (!submitted.ok) {
      print(`demo: workflow submission failed: ${submitted.status} ${await submitted.text()}`);
      return;
    }
    const id = ((await submitted.json()) as { id: string }).id;
    workflows.push({ name: body.name, id, line: '', done: false });
    print(`demo: submitted workflow ${body.name} ${id}: ${what}`);
  }
  let last = '';
  for (;;) {
    for (const w of workflows) {
      if (w.done) continue;
      const r = await fetch(`${baseUrl}/api/workflows/${w.id}`, {
        headers: { authorization, 'x-baton-user': 'demo' },
      });
      const state = (await r.json()) as DemoWorkflowState;
      const line = demoWorkflowLine(w.name, state);
      if (line !== w.line) print((w.line = line));
      w.done = state.state !== 'running';
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
    if (finished === states.length && workflows.every((w) => w.done)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  print('demo: done. The failed job is demo.fail: it always throws, so it was retried with backoff and then');
  print('      dead-lettered, as designed. Its history: npx baton jobs --state failed, then npx baton job ID');
  for (const w of workflows) print(`demo: the ${w.name} workflow's steps: npx baton workflow ${w.id}`);
  print(`demo: browse ${baseUrl}/api/jobs or run: npx baton jobs`);
}
