import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatonProcess } from './baton-process.js';
import { startBatonListening } from './baton-process.js';
import { AGENT_TOKEN, FAST, startAgent, until } from './fleet.js';
import type { Proc } from './fleet.js';
import { launchBrowser, pageErrors, screenshot } from './browser.js';

/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against a real
 * `baton server` and `baton agent` processes, as users deploy them. Each test drives the page as
 * a person would and checks what the page shows against what the API did.
 */
const ADMIN = 'e2e-admin-token-0123456789abcdef';
/** Each test starts processes and a browser context: generous on a loaded 2-core CI machine. */
const TEST_MS = 90_000;

describe('dashboard in a browser', () => {
  let dir: string;
  let server: BatonProcess;
  let agent: Proc;
  let browser: Browser;
  const tokens: Record<string, string> = {};
  const extraAgents: Proc[] = [];

  const call = async (method: string, path: string, body?: unknown, as: { token?: string; user?: string } = {}) => {
    const headers: Record<string, string> = { authorization: `Bearer ${as.token ?? ADMIN}` };
    if (as.user) headers['x-baton-user'] = as.user;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(server.url + path, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as any };
  };
  const submit = async (job: Record<string, unknown>, user = 'alice') => {
    const r = await call('POST', '/api/jobs', job, { user });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const waitState = async (id: string, states: string[]) => {
    for (let i = 0; i < 200; i++) {
      const r = await call('GET', `/api/jobs/${id}`);
      if (states.includes(r.body.state)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`job ${id} never reached ${states.join('|')}`);
  };

  /** A fresh browser context signed in with `token` through the sign-in form. */
  const signIn = async (token: string): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await page.goto(server.url + '/');
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'live' }).first().waitFor();
    return page;
  };
  /** What has the keyboard focus (evaluated in the page: `document` is the page's). */
  const focused = (page: Page) =>
    page.evaluate(() => {
      const active = (globalThis as any).document.activeElement;
      return { text: active?.textContent as string | undefined, id: active?.id as string | undefined };
    });
  const goTo = async (page: Page, label: string) => {
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: label, exact: true }).click();
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-e2e-'));
    // A pool whose scaling the server decides, for the Scaling page.
    writeFileSync(
      join(dir, 'baton.yaml'),
      'pools:\n  default:\n    queues: [default, iso, flaky, other]\n    min: 1\n    max: 4\n    slotsPerAgent: 8\nscaling:\n  syncSeconds: 1\n',
    );
    server = await startBatonListening('server', [
      '--admin-token',
      ADMIN,
      '--store',
      `sqlite:${join(dir, 'baton.db')}`,
      '--agent-token',
      AGENT_TOKEN,
      '--config',
      join(dir, 'baton.yaml'),
      ...FAST,
    ]);
    agent = await startAgent(server.url, 'e2e-agent', [
      '--demo',
      '--slots',
      '8',
      '--queues',
      'default,iso,flaky,other',
    ]);
    for (const [name, role] of [
      ['alice', 'user'],
      ['bob', 'user'],
      ['vera', 'viewer'],
    ] as const) {
      expect((await call('POST', '/api/users', { name, role })).status).toBe(201);
      const minted = await call('POST', `/api/users/${name}/tokens`, {});
      tokens[name] = minted.body.token;
    }
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const p of [...extraAgents, agent]) p?.kill();
    server?.child.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, TEST_MS);

  it(
    'signs in with a token, and refuses a wrong one with a message',
    async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const errors = pageErrors(page);
      await page.goto(server.url + '/');
      await page.getByLabel('API token').fill('not-a-real-token-at-all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: /token/i }).waitFor();
      await page.getByLabel('API token').fill(ADMIN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      await page.getByText('admin', { exact: true }).first().waitFor();
      expect(errors).toEqual([]);
      await context.close();
    },
    TEST_MS,
  );

  it(
    'shows a job submitted through the API appear and finish live',
    async () => {
      const page = await signIn(ADMIN);
      const errors = pageErrors(page);
      await goTo(page, 'Jobs');
      await page.getByRole('heading', { name: 'Jobs' }).waitFor();
      const id = await submit({ task: 'demo.sleep', payload: { ms: 1500 } });
      const row = page.locator('tr', { hasText: id });
      // No reload: the row arrives and changes state through the event stream.
      await row.locator('.badge', { hasText: /queued|assigned|running/ }).waitFor({ timeout: 10_000 });
      await row.locator('.badge', { hasText: 'succeeded' }).waitFor({ timeout: 15_000 });
      await screenshot(page, 'jobs');
      await row.getByRole('link', { name: id }).click();
      await page.getByRole('heading', { name: new RegExp(id) }).waitFor();
      await page.getByText('Attempt 1').waitFor();
      expect(await page.locator('pre.json').first().textContent()).toContain('"ms": 1500');
      await screenshot(page, 'job-detail');
      expect(errors).toEqual([]);
      await page.context().close();
    },
    TEST_MS,
  );

  it(
    'cancels a running job from its page',
    async () => {
      const id = await submit({ task: 'demo.sleep', payload: { ms: 120_000 } });
      await waitState(id, ['running']);
      const page = await signIn(ADMIN);
      await page.goto(`${server.url}/jobs/${id}`);
      await page.getByText('Progress:').waitFor();
      await page.getByRole('button', { name: 'Cancel job' }).click();
      await page.locator('h1 .badge', { hasText: 'cancelled' }).waitFor({ timeout: 10_000 });
      expect((await call('GET', `/api/jobs/${id}`)).body.state).toBe('cancelled');
      await page.context().close();
    },
    TEST_MS,
  );

  it(
    'shows an agent join and leave on the agents page',
    async () => {
      const page = await signIn(ADMIN);
      await goTo(page, 'Agents');
      await page.getByRole('heading', { name: 'e2e-agent' }).waitFor();
      expect(await page.getByRole('heading', { name: 'e2e-joiner' }).count()).toBe(0);
      const joiner = await startAgent(server.url, 'e2e-joiner', ['--demo', '--slots', '2', '--gpus', '4']);
      extraAgents.push(joiner);
      const card = page.locator('.card', { has: page.getByRole('heading', { name: 'e2e-joiner' }) });
      await card.waitFor({ timeout: 10_000 });
      expect(await card.locator('.gpu').count()).toBe(4);
      // A 2-GPU job lands on the only agent with GPUs; its cells name it.
      const gpuJob = await submit({ task: 'demo.sleep', payload: { ms: 60_000 }, resources: { gpus: 2 } });
      await waitState(gpuJob, ['running']);
      await until('two busy GPUs on the page', async () => (await card.locator('.gpu-busy').count()) === 2);
      await card
        .getByRole('link', { name: /job on GPU/ })
        .first()
        .waitFor();
      expect(await card.locator(`a[href="/jobs/${gpuJob}"]`).count()).toBe(2);
      await screenshot(page, 'agents');
      // The agent drains on SIGTERM: it would wait for the job, so the job goes first.
      await call('POST', `/api/jobs/${gpuJob}/cancel`);
      joiner.kill('SIGTERM');
      await joiner.exited;
      // Gone, or shown as disconnected until it is declared dead.
      await until('the agent to leave the page', async () => {
        // One read of every matching card (none waits for a card that just went away).
        const classes = await card.evaluateAll((cards: any[]) => cards.map((c) => String(c.className)));
        return classes.length === 0 || classes.every((c) => c.includes('agent-disconnected'));
      });
      await page.context().close();
    },
    TEST_MS,
  );

  it(
    "keeps a user to their own jobs, and the API refuses a viewer's cancel",
    async () => {
      const mine = await submit({ task: 'demo.sleep', payload: { ms: 100 }, queue: 'iso' }, 'alice');
      const theirs = await submit({ task: 'demo.sleep', payload: { ms: 60_000 }, queue: 'iso' }, 'bob');
      await waitState(theirs, ['running']);
      const alice = await signIn(tokens.alice as string);
      await alice.goto(`${server.url}/jobs?queue=iso`);
      await alice.locator('tr', { hasText: mine }).waitFor();
      expect(await alice.locator('tr', { hasText: theirs }).count()).toBe(0);
      await alice.goto(`${server.url}/jobs/${theirs}`);
      await alice.getByRole('alert').filter({ hasText: 'JOB_NOT_FOUND' }).waitFor();
      await alice.context().close();

      const vera = await signIn(tokens.vera as string);
      await vera.goto(`${server.url}/jobs/${theirs}`);
      await vera.locator('h1 .badge', { hasText: 'running' }).waitFor();
      // The page offers a viewer no changes; the API refuses one made anyway.
      expect(await vera.getByRole('button', { name: 'Cancel job' }).count()).toBe(0);
      const refused = await vera.evaluate(
        async ([id, token]) => {
          const r = await fetch(`/api/jobs/${id}/cancel`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}` },
          });
          return { status: r.status, body: (await r.json()) as { error: { code: string } } };
        },
        [theirs, tokens.vera as string],
      );
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('FORBIDDEN');
      expect((await call('GET', `/api/jobs/${theirs}`)).body.state).toBe('running');
      await vera.context().close();
      await call('POST', `/api/jobs/${theirs}/cancel`);
    },
    TEST_MS,
  );

  it(
    'bulk-retries a filtered set after showing how many it will retry',
    async () => {
      const failed = await Promise.all(
        [1, 2, 3].map(() =>
          submit({ task: 'demo.fail', queue: 'flaky', maxAttempts: 1, payload: { message: 'boom' } }),
        ),
      );
      const other = await submit({ task: 'demo.fail', queue: 'other', maxAttempts: 1 });
      for (const id of [...failed, other]) await waitState(id, ['failed']);
      const page = await signIn(ADMIN);
      await page.goto(`${server.url}/jobs?queue=flaky&state=failed`);
      for (const id of failed) await page.locator('tr', { hasText: id }).waitFor();
      await page.getByRole('button', { name: 'Retry matching…' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.getByTestId('bulk-count').textContent()).toBe('3');
      await screenshot(page, 'bulk-retry');
      await dialog.getByRole('button', { name: 'Retry 3 jobs' }).click();
      await page.getByRole('status').filter({ hasText: 'Retried 3 jobs' }).waitFor();
      const listed = await call('GET', '/api/jobs?queue=flaky&limit=50');
      expect(listed.body.jobs).toHaveLength(6);
      const otherQueue = await call('GET', '/api/jobs?queue=other&limit=50');
      expect(otherQueue.body.jobs).toHaveLength(1);
      await page.context().close();
    },
    TEST_MS,
  );

  it(
    'works from the keyboard: skip link, page links, filters in the URL',
    async () => {
      const page = await signIn(ADMIN);
      await page.keyboard.press('Tab');
      expect((await focused(page)).text).toBe('Skip to content');
      await page.keyboard.press('Enter');
      expect((await focused(page)).id).toBe('main');
      // Tab from the top to the Jobs link and follow it.
      await page.getByRole('link', { name: 'Overview', exact: true }).focus();
      await page.keyboard.press('Tab');
      expect((await focused(page)).text).toBe('Jobs');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Jobs' }).waitFor();
      await page.getByRole('button', { name: /^failed/ }).focus();
      await page.keyboard.press('Enter');
      await page.getByLabel('Queue').fill('flaky');
      await page.getByLabel('Queue').press('Enter');
      await until('the filters in the URL', async () => new URL(page.url()).search === '?state=failed&queue=flaky');
      // The link is the view: opened afresh, it shows the same filters.
      // A new tab has no session (the token lives in the tab): it asks to sign in, then shows the view.
      const again = await page.context().newPage();
      await again.goto(page.url());
      await again.getByLabel('API token').fill(ADMIN);
      await again.getByLabel('API token').press('Enter');
      await again.getByRole('heading', { name: 'Jobs' }).waitFor();
      expect(await again.getByLabel('Queue').inputValue()).toBe('flaky');
      expect(await again.getByRole('button', { name: /^failed/ }).getAttribute('aria-pressed')).toBe('true');
      await page.context().close();
    },
    TEST_MS,
  );

  it(
    'draws every page (screenshots for the docs)',
    async () => {
      const wf = await call(
        'POST',
        '/api/workflows',
        {
          name: 'pipeline',
          steps: [
            { id: 'extract', task: 'demo.sleep', payload: { ms: 200 } },
            { id: 'ocr-1', task: 'demo.sleep', payload: { ms: 300 }, needs: ['extract'] },
            { id: 'ocr-2', task: 'demo.sleep', payload: { ms: 60_000 }, needs: ['extract'] },
            { id: 'index', task: 'demo.sleep', payload: { ms: 100 }, needs: ['ocr-1', 'ocr-2'] },
          ],
        },
        { user: 'alice' },
      );
      expect(wf.status).toBe(201);
      const page = await signIn(ADMIN);
      const errors = pageErrors(page);
      await page.getByRole('heading', { name: 'Queues' }).waitFor();
      await page.locator('.chart canvas').first().waitFor();
      await screenshot(page, 'overview');
      await goTo(page, 'Workflows');
      await page.getByRole('link', { name: 'pipeline' }).first().waitFor();
      await screenshot(page, 'workflows');
      await page.getByRole('link', { name: 'pipeline' }).first().click();
      await page.getByRole('button', { name: 'step ocr-2: running' }).waitFor({ timeout: 15_000 });
      await screenshot(page, 'workflow');
      await goTo(page, 'Scaling');
      await page.getByRole('heading', { name: 'Pool default' }).waitFor();
      await page.getByText(/agents, \d+ wanted/).waitFor();
      await screenshot(page, 'scaling');
      await goTo(page, 'Users');
      await page.getByRole('row', { name: /vera/ }).waitFor();
      await screenshot(page, 'users');
      await page.emulateMedia({ colorScheme: 'dark' });
      await goTo(page, 'Overview');
      await page.getByRole('heading', { name: 'Queues' }).waitFor();
      await screenshot(page, 'overview-dark');
      expect(errors).toEqual([]);
      await page.context().close();
      await call('POST', `/api/workflows/${wf.body.id}/cancel`);
    },
    TEST_MS,
  );
});
