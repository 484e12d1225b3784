/**
 * After the demo's workload: a light, steady stream of jobs (a few a second, of varied length,
 * now and then one that fails, and every ~20 s a burst that queues), so the dashboard a newcomer opens shows a fleet at work (live
 * charts, rows changing state) rather than a finished batch. They belong to the user
 * `demo-live`, apart from the demo's own jobs. Stops with the server.
 */
export function startDemoTrickle(baseUrl: string, adminToken: string, print: (line: string) => void): () => void {
  const headers = {
    'content-type': 'application/json',
    authorization: `Bearer ${adminToken}`,
    'x-baton-user': 'demo-live',
  };
  let stopped = false;
  let n = 0;
  let timer: NodeJS.Timeout | null = null;
  let warned = false;
  let ticks = 0;
  const tick = async (): Promise<void> => {
    // Now and then a burst larger than the local agents' slots, so work queues and the wait shows.
    const burst = ++ticks % 15 === 0;
    const jobs = Array.from({ length: burst ? 12 : 1 + Math.floor(Math.random() * 3) }, () => {
      n++;
      if (n % 40 === 0)
        return { task: 'demo.fail', payload: { message: 'flaky dependency' }, maxAttempts: 2, backoffMs: 500 };
      const priority = n % 7 === 0 ? 'high' : n % 5 === 0 ? 'low' : 'normal';
      return { task: 'demo.sleep', payload: { ms: 300 + Math.floor(Math.random() * 2700) }, priority };
    });
    try {
      const r = await fetch(`${baseUrl}/api/jobs/bulk`, { method: 'POST', headers, body: JSON.stringify({ jobs }) });
      if (!r.ok && !warned) {
        warned = true;
        print(`demo: the live stream's submission was refused (${r.status}); it keeps trying`);
      }
    } catch {
      // The server is stopping; the next tick sees `stopped`.
    }
    if (!stopped) timer = setTimeout(() => void tick(), 1000 + Math.random() * 1000);
  };
  void tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
