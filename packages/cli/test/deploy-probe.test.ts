import { execFile } from 'node:child_process';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectedProbe, drainGraceMs, stopGraceSeconds } from '../src/deploy/agent-command.js';
import { configOf } from './deploy-fixtures.js';

/** Runs the probe command as the kubelet or Docker would; resolves its exit code. */
function runProbe(port: number): Promise<number> {
  const [cmd = '', ...args] = connectedProbe(port);
  return new Promise((resolve) => {
    execFile(cmd === 'node' ? process.execPath : cmd, args, { timeout: 10_000 }, (err) =>
      resolve(err ? Number((err as { code?: number }).code ?? 1) : 0),
    );
  });
}

let server: Server | null = null;
let socket: Socket | null = null;
afterEach(async () => {
  socket?.destroy();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = null;
  socket = null;
});

describe('the agent startup probe', () => {
  it('passes only while the process holds an established connection to the server port', async () => {
    server = createServer((s) => s.on('error', () => {}));
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    // Listening alone is no connection.
    expect(await runProbe(port)).toBe(1);
    socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket?.once('connect', r));
    expect(await runProbe(port)).toBe(0);
    socket.destroy();
    server.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(await runProbe(port)).toBe(1);
  });
});

describe('agent drain timings', () => {
  const pool = (agentArgs: string[]) =>
    configOf({ pools: { p: { queues: ['q'], max: 1, slotsPerAgent: 1, agentArgs } } }).pools[0]!;

  it('reads --drain-grace-ms in both spellings, else uses the agent default of 30 s', () => {
    expect(drainGraceMs(pool(['--demo']))).toBe(30_000);
    expect(drainGraceMs(pool(['--drain-grace-ms', '90000']))).toBe(90_000);
    expect(drainGraceMs(pool(['--drain-grace-ms=1500']))).toBe(1500);
    expect(stopGraceSeconds(pool(['--drain-grace-ms=1500']))).toBe(32);
    expect(stopGraceSeconds(pool([]))).toBe(60);
  });
});
