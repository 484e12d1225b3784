import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { AGENT_CONNECT_PATH, decodeFrame, encodeFrame } from '@baton/core';
import type { AgentRequest, ServerMessage } from '@baton/core';
import { WsLink } from '../src/index.js';

/**
 * A server that registers the agent but then answers every report with AGENT_NOT_REGISTERED,
 * as a server that keeps forgetting it would: the link re-registers and sends the report again,
 * and the report must still fail after `requestTimeoutMs` rather than wait forever.
 */
function forgetfulServer(): Promise<{ url: string; registrations: () => number; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: AGENT_CONNECT_PATH });
  let registrations = 0;
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      const replies: ServerMessage[] = [];
      for (const raw of decodeFrame(data)) {
        const request = raw as AgentRequest;
        if (request.t === 'register') {
          registrations++;
          replies.push({
            t: 'reply',
            id: request.id,
            ok: true,
            result: { agentId: 'agent-1', leaseMs: 10_000, heartbeatMs: 2000, resumeSecret: 's'.repeat(43) },
          });
        } else {
          replies.push({
            t: 'reply',
            id: request.id,
            ok: false,
            error: { code: 'AGENT_NOT_REGISTERED', message: 'agent is not registered on this connection' },
          });
        }
      }
      ws.send(encodeFrame(replies));
    });
  });
  return new Promise((resolve) =>
    wss.on('listening', () =>
      resolve({
        url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
        registrations: () => registrations,
        close: () =>
          new Promise<void>((done) => {
            for (const c of wss.clients) c.terminate();
            wss.close(() => done());
          }),
      }),
    ),
  );
}

describe('WsLink request timeouts', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('fails a report the server keeps refusing as unregistered after requestTimeoutMs, re-registering meanwhile', async () => {
    const server = await forgetfulServer();
    cleanup.push(server.close);
    const link = new WsLink({
      serverUrl: server.url,
      token: 't'.repeat(32),
      // Time for at least one reconnect and registration however loaded the machine.
      requestTimeoutMs: 2000,
      reconnectMaxMs: 20,
    });
    cleanup.push(async () => link.close());
    await link.register(
      { queues: ['default'], tasks: [{ task: 'x', queue: 'default' }], slots: 1 },
      { deliver: () => {}, abort: () => {}, held: () => [] },
    );
    const report = link.heartbeat([{ jobId: 'job-1', leaseToken: 'lease-1' }]);
    await expect(report).rejects.toMatchObject({ code: 'AGENT_REQUEST_TIMEOUT' });
    // The refusal made the link register again at least once before the report gave up.
    expect(server.registrations()).toBeGreaterThan(1);
  });
});
