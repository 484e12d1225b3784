import { afterAll, describe, expect, it } from 'vitest';
import { durationOption } from '../packages/cli/src/duration.js';
import { startBatonDev, startBatonListening } from './baton-process.js';
import { startBaton } from './fleet.js';

const started: { kill(): void }[] = [];
afterAll(() => {
  for (const p of started) p.kill();
});

describe('retention flags', () => {
  it('parse 90s, 15m, 12h, 7d, plain milliseconds and 0', () => {
    const parse = durationOption('--retain-succeeded');
    expect(parse('90s')).toBe(90_000);
    expect(parse('15m')).toBe(15 * 60_000);
    expect(parse('12h')).toBe(12 * 3_600_000);
    expect(parse('7d')).toBe(7 * 86_400_000);
    expect(parse('250ms')).toBe(250);
    expect(parse('1500')).toBe(1500);
    expect(parse('0')).toBe(0);
  });

  it.each([
    ['server', '--retain-succeeded', '7x'],
    ['server', '--retain-failed', '-1d'],
    ['server', '--retain-cancelled', '1.5h'],
    ['dev', '--retain-succeeded', 'forever'],
    ['dev', '--retain-failed', '7 d'],
  ])('baton %s refuses %s %s: exit 2, naming the flag and the forms it takes', async (command, flag, value) => {
    const p = startBaton([command, '--port', '0', '--store', 'sqlite::memory:', flag, value]);
    started.push({ kill: () => p.kill() });
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toContain(`${flag} must be a duration like 90s, 15m, 12h, 7d or plain milliseconds`);
    expect(p.output()).toContain(`got "${value}"`);
    expect(p.output()).toContain('(0 keeps forever)');
  });

  it('baton dev starts with every retention flag given', async () => {
    const p = await startBatonDev([
      '--store',
      'sqlite::memory:',
      '--retain-succeeded',
      '90s',
      '--retain-failed',
      '0',
      '--retain-cancelled',
      '12h',
    ]);
    started.push({ kill: () => p.child.kill('SIGKILL') });
    expect(p.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe('--route-ttl', () => {
  it.each([
    ['server', '7x', '--route-ttl must be a duration like 90s, 15m, 12h, 7d or plain milliseconds, got "7x"'],
    ['dev', '0', '--route-ttl must be at least 100ms, got "0"'],
    ['server', '99ms', '--route-ttl must be at least 100ms, got "99ms"'],
  ])('baton %s refuses --route-ttl %s: exit 2, and no word of keeping forever', async (command, value, message) => {
    const p = startBaton([command, '--port', '0', '--store', 'sqlite::memory:', '--route-ttl', value]);
    started.push({ kill: () => p.kill() });
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toContain(message);
    expect(p.output()).not.toContain('forever');
  });
});

describe('--fair-share-half-life', () => {
  it.each([
    [
      'server',
      'soon',
      '--fair-share-half-life must be a duration like 90s, 15m, 12h, 7d or plain milliseconds, got "soon"',
    ],
    ['dev', '999', '--fair-share-half-life must be at least 1s, got "999"'],
  ])('baton %s refuses --fair-share-half-life %s with exit 2', async (command, value, message) => {
    const p = startBaton([command, '--port', '0', '--store', 'sqlite::memory:', '--fair-share-half-life', value]);
    started.push({ kill: () => p.kill() });
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toContain(message);
  });

  it('baton server takes --no-fair-share and a half-life, and serves', async () => {
    const p = await startBatonListening('server', [
      '--store',
      'sqlite::memory:',
      '--no-fair-share',
      '--fair-share-half-life',
      '30m',
    ]);
    started.push({ kill: () => p.child.kill() });
    expect(p.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
