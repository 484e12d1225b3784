import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

/** Debian's chromium (`apt install chromium`; .ci/run installs it), or BATON_CHROMIUM. */
export const CHROMIUM = process.env.BATON_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Browser tests always run: without the browser they fail with how to install it (`.ci/run`
 * installs it), so a missing install can never pass as green or as skipped.
 */
export function requireBrowser(): void {
  if (!existsSync(CHROMIUM))
    throw new Error(`no chromium at ${CHROMIUM}: apt install chromium (.ci/run does), or set BATON_CHROMIUM`);
}

export function launchBrowser(): Promise<Browser> {
  requireBrowser();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Where screenshots go: test-artifacts/screenshots (ignored by git; CI keeps it as an artifact). */
export const SCREENSHOTS = fileURLToPath(new URL('../test-artifacts/screenshots/', import.meta.url));

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
}

/** Collects what a page threw or logged as an error, so a test can say the page stayed healthy. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}
