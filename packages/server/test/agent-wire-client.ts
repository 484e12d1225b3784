import { AGENT_CONNECT_PATH, AGENT_PROTOCOL_VERSION, decodeFrame, encodeFrame } from '@baton/core';
import type { AgentRegistration, AgentRequest, JobAssignment } from '@baton/core';
import WebSocket from 'ws';

export const TEST_AGENT_TOKEN = 'agent-wire-test-token-0123456789';

type Request = AgentRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/**
 * A raw agent on the wire protocol, as a hostile or buggy agent could be: it sends whatever
 * frames a test builds and keeps every server message and the close code.
 */
export class WireAgent {
  readonly received: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private nextId = 1;
  private readonly listeners = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      for (const message of decodeFrame(data)) this.received.push(message);
      for (const l of this.listeners) l();
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const l of this.listeners) l();
      }),
    );
  }

  static async connect(url: string, token = TEST_AGENT_TOKEN): Promise<WireAgent> {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + AGENT_CONNECT_PATH, {
      headers: { authorization: `Bearer ${token}` },
      maxPayload: 256 * 1024 * 1024,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new WireAgent(ws);
  }

  /** Sends one request in its own frame and resolves with the server's reply to it. */
  async request(request: Request): Promise<any> {
    const id = this.nextId++;
    this.ws.send(encodeFrame([{ ...request, id } as AgentRequest]));
    return this.waitFor((m) => m.t === 'reply' && m.id === id);
  }

  async register(registration: Partial<AgentRegistration> = {}): Promise<any> {
    return this.request({
      t: 'register',
      protocol: AGENT_PROTOCOL_VERSION,
      registration: {
        queues: ['default'],
        tasks: [{ task: 'demo.echo', queue: 'default' }],
        slots: 4,
        ...registration,
      },
    });
  }

  /** The first received message (now or later) matching `match`; rejects if the socket closes first. */
  waitFor(match: (message: any) => boolean, timeoutMs = 10_000): Promise<any> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.received.find(match);
        if (found) {
          done();
          resolve(found);
        } else if (this.ws.readyState === WebSocket.CLOSED) {
          done();
          reject(new Error(`connection closed before the expected message; got ${JSON.stringify(this.received)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.received)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Every assignment received so far. */
  assignments(): JobAssignment[] {
    return this.received.filter((m) => m.t === 'deliver').flatMap((m) => m.assignments);
  }

  /** The assignment of job `jobId`, delivered already or later. */
  async assignment(jobId: string): Promise<JobAssignment> {
    await this.waitFor(() => this.assignments().some((a) => a.job.id === jobId));
    return this.assignments().find((a) => a.job.id === jobId)!;
  }

  close(): void {
    this.ws.terminate();
  }
}
