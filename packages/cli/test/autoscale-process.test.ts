import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processLauncher } from '../src/autoscale/agent-process.js';

/**
 * A stand-in for the `baton` bin: says what it got (argv, which tokens it sees), prints the
 * agent's "connected" line, and exits 0 on SIGTERM, or with the code `exit <n>` asks for.
 */
const FAKE_BIN = `
const args = process.argv.slice(2);
console.log('args ' + args.join(' '));
console.log('agent token ' + (process.env.BATON_AGENT_TOKEN === 'agent-token-0123456789' ? 'given' : 'missing'));
console.log('admin token ' + (process.env.BATON_ADMIN_TOKEN === undefined && process.env.BATON_TOKEN === undefined ? 'absent' : 'LEAKED'));
console.error('a line on stderr');
const exit = args.indexOf('exit');
if (exit >= 0) process.exit(Number(args[exit + 1]));
process.on('SIGTERM', () => { console.log('draining'); process.exit(0); });
process.stdout.write('agent ' + args[args.indexOf('--name') + 1] + ' connected to http://x as agent-42: pool p\\n');
setInterval(() => {}, 1000);
`;

describe('processLauncher (a stand-in bin)', () => {
  let dir: string;
  let bin: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'baton-autoscale-process-'));
    bin = join(dir, 'fake-baton.mjs');
    writeFileSync(bin, FAKE_BIN);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the bin with the agent args, the agent token in its environment only, its lines prefixed', async () => {
    const lines: string[] = [];
    const launcher = processLauncher({
      agentToken: 'agent-token-0123456789',
      output: (line) => lines.push(line),
      bin,
      env: { ...process.env, BATON_ADMIN_TOKEN: 'admin-token-0123456789', BATON_TOKEN: 'user-token-0123456789' },
    });
    let connected: string | null = null;
    const child = launcher.launch({
      name: 'autoscale-p-1',
      pool: 'p',
      args: ['agent', '--pool', 'p', '--name', 'autoscale-p-1'],
      onConnected: (id) => (connected = id),
    });
    expect(child.pid).toBeTypeOf('number');
    await until(() => connected !== null);
    expect(connected).toBe('agent-42');
    child.terminate();
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(lines).toEqual(
      expect.arrayContaining([
        '[autoscale-p-1] args agent --pool p --name autoscale-p-1',
        '[autoscale-p-1] agent token given',
        '[autoscale-p-1] admin token absent',
        '[autoscale-p-1] a line on stderr',
        '[autoscale-p-1] agent autoscale-p-1 connected to http://x as agent-42: pool p',
        '[autoscale-p-1] draining',
      ]),
    );
    // Signals to an exited child are no-ops.
    child.terminate();
    child.kill();
  });

  it('reports an exit of its own, and one by SIGKILL', async () => {
    const launcher = processLauncher({ agentToken: 'agent-token-0123456789', output: () => {}, bin });
    const child = launcher.launch({ name: 'n', pool: 'p', args: ['exit', '3'], onConnected: () => {} });
    expect(await child.exited).toEqual({ code: 3, signal: null });
    const killed = launcher.launch({ name: 'k', pool: 'p', args: ['agent', '--name', 'k'], onConnected: () => {} });
    killed.kill();
    expect(await killed.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

async function until(probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
