import type {
  AddStepsRequest,
  AddedSteps,
  AgentInbox,
  AgentLink,
  AgentRegistration,
  AgentRequest,
  Completion,
  GpuHealth,
  LeaseRef,
  LingeringJob,
  LingeringReport,
  LogChunk,
  RegisteredAgent,
  TransitionResult,
} from '@baton/core';
import { AGENT_PROTOCOL_VERSION, BatonError, decodeFrame, packFrames } from '@baton/core';
import WebSocket from 'ws';
import type { ReregisteredInbox } from './link-resume.js';
import { ResumeTicket } from './link-resume.js';
import { PendingRequests } from './pending-requests.js';
import type { RequestBody } from './request-split.js';
import { joinAnswers, splitLongList, splitUnsendable } from './request-split.js';
import type { ServerEndpoint } from './server-connection.js';
import { connectToServer, serverEndpoints } from './server-connection.js';
import type { TaskLogger } from './task.js';
import { silentLogger } from './task.js';

export interface WsLinkOptions {
  /**
   * The server's base URL, `http://host:7070`, or several servers of one fleet (same store):
   * after a lost connection the link tries the next one, so an agent outlives its server.
   */
  serverUrl: string | readonly string[];
  /** The agent token the server was started with. */
  token: string;
  logger?: TaskLogger;
  /** Longest wait between reconnection attempts. Default 2 000 ms. */
  reconnectMaxMs?: number;
  /** A request unanswered this long (connected or not) fails. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /** Called when a reconnection is refused for good (the token was changed): the link is closed. */
  onRefused?: (err: Error) => void;
  /** PEM CA certificates to trust for `https://`/`wss://` servers instead of the system's (a private CA). */
  ca?: string | Buffer;
}

/** Lifecycle of the link: `open` once registered; `reconnecting` after a lost connection. */
export type WsLinkState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * The agent protocol over a WebSocket. Calls made in one turn of the event loop travel in one
 * msgpack frame. A lost connection is re-established with backoff and the agent re-registered
 * under its id with the jobs it still runs, so jobs whose lease held keep running; requests
 * made meanwhile wait and are sent once registered again. An inbox with `reregistered` hears
 * of each re-registration (a new id after `RESUME_REFUSED`).
 */
export class WsLink implements AgentLink, LingeringReport {
  private ws: WebSocket | null = null;
  private _state: WsLinkState = 'idle';
  private registration: AgentRegistration | null = null;
  private inbox: ReregisteredInbox | null = null;
  private readonly ticket = new ResumeTicket();
  private heartbeatMs = 2000;
  private nextId = 1;
  private readonly pending: PendingRequests;
  private outbox: AgentRequest[] = [];
  private flushScheduled = false;
  private pingTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelayMs = 100;
  private readonly logger: TaskLogger;
  private readonly servers: ServerEndpoint[];
  /** The server connected to (or tried next). */
  private current = 0;

  constructor(private readonly options: WsLinkOptions) {
    this.logger = options.logger ?? silentLogger;
    this.servers = serverEndpoints(options.serverUrl);
    this.pending = new PendingRequests(options.requestTimeoutMs ?? 30_000);
  }

  /** The server this link is connected to (or tries next). */
  get server(): string {
    return this.servers[this.current % this.servers.length]!.http;
  }

  get state(): WsLinkState {
    return this._state;
  }

  async register(registration: AgentRegistration, inbox: ReregisteredInbox): Promise<RegisteredAgent> {
    this.registration = registration;
    this.inbox = inbox;
    this._state = 'connecting';
    try {
      await this.open();
    } catch (err) {
      this.current++; // a caller that tries again tries the next server
      throw err;
    }
    return this.registerNow();
  }

  started(items: LeaseRef[]): Promise<TransitionResult[]> {
    return this.call({ t: 'started', items }) as Promise<TransitionResult[]>;
  }

  heartbeat(items: (LeaseRef & { progress?: number })[]): Promise<TransitionResult[]> {
    return this.call({ t: 'heartbeat', items }) as Promise<TransitionResult[]>;
  }

  complete(items: Completion[]): Promise<TransitionResult[]> {
    return this.call({ t: 'complete', items }) as Promise<TransitionResult[]>;
  }

  async logs(chunks: LogChunk[]): Promise<void> {
    await this.call({ t: 'logs', chunks });
  }

  async gpuHealth(gpus: GpuHealth[]): Promise<void> {
    await this.call({ t: 'gpuHealth', gpus });
  }

  async lingering(jobs: LingeringJob[]): Promise<void> {
    await this.call({ t: 'lingering', jobs });
  }

  /** Never split (it is one atomic change); a request too large for a frame fails `UNSENDABLE_REQUEST`. */
  addSteps(request: AddStepsRequest): Promise<AddedSteps> {
    return this.call({ t: 'addSteps', ...request }) as Promise<AddedSteps>;
  }

  async drain(): Promise<void> {
    await this.call({ t: 'drain' });
  }

  async unregister(): Promise<void> {
    try {
      if (this._state === 'open') await this.call({ t: 'unregister' });
    } finally {
      this.close();
    }
  }

  /** Drops the connection for good, failing whatever waits. Idempotent. */
  close(): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.pending.rejectAll(new BatonError('AGENT_LINK_CLOSED', 'the agent link is closed', 503));
    this.ws?.close(1000, 'agent leaving');
    this.ws = null;
  }

  /** Connects to the current server; rejects with a clear error on a refusal or a connection failure. */
  private async open(): Promise<void> {
    const server = this.servers[this.current % this.servers.length]!;
    this.ws = await connectToServer(server, {
      token: this.options.token,
      ca: this.options.ca,
      onMessage: (data) => this.receive(data),
      onClose: (ws) => {
        if (this.ws === ws) this.lost();
      },
    });
  }

  private async registerNow(): Promise<RegisteredAgent> {
    if (!this.registration || !this.inbox) throw new Error('register() first');
    const resume = this.ticket.resume(this.inbox);
    const registered = (await this.send({
      t: 'register',
      id: this.nextId++,
      protocol: AGENT_PROTOCOL_VERSION,
      registration: { ...this.registration, ...(resume && { resume }) },
    })) as RegisteredAgent;
    this.ticket.remember(registered);
    this.heartbeatMs = registered.heartbeatMs;
    this._state = 'open';
    this.reconnectDelayMs = 100;
    if (this.pingTimer) clearInterval(this.pingTimer);
    // Pings keep an idle agent alive in the server's eyes.
    this.pingTimer = setInterval(() => this.ws?.ping(), this.heartbeatMs);
    this.pingTimer.unref();
    for (const message of this.pending.release()) this.enqueue(message);
    return registered;
  }

  private call(request: RequestBody): Promise<unknown> {
    if (this._state === 'closed') {
      return Promise.reject(new BatonError('AGENT_LINK_CLOSED', 'the agent link is closed', 503));
    }
    const parts = splitLongList(request);
    if (parts) return Promise.all(parts.map((part) => this.call(part))).then(joinAnswers);
    const message = { ...request, id: this.nextId++ } as AgentRequest;
    const reply = this.pending.track(message);
    if (this._state === 'open') this.enqueue(message);
    else this.pending.hold(message);
    return reply;
  }

  /** Sends at once (registration goes ahead of everything waiting). */
  private send(message: AgentRequest): Promise<unknown> {
    const reply = this.pending.track(message);
    this.enqueue(message);
    return reply;
  }

  private enqueue(message: AgentRequest): void {
    this.outbox.push(message);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const batch = this.outbox;
      this.outbox = [];
      const ws = this.ws;
      // Otherwise the connection is gone: lost() re-sends everything in flight after re-registering.
      if (ws?.readyState !== WebSocket.OPEN) return;
      // Within the server's limits (frame bytes, messages a frame), or the server cuts us off.
      const { frames, failed } = packFrames(batch);
      for (const frame of frames) ws.send(frame);
      for (const { message, reason } of failed) this.unsendable(message, reason);
    });
  }

  /** A request that cannot be encoded, or is too large for a frame, fails alone (see request-split). */
  private unsendable(message: AgentRequest, reason: string): void {
    const entry = this.pending.get(message.id);
    if (!entry) return;
    const next = splitUnsendable(message, reason, () => this.nextId++);
    if (next.kind === 'replace') {
      entry.message = next.message;
      return this.enqueue(next.message);
    }
    this.pending.take(message.id);
    if (next.kind === 'split') {
      Promise.all(next.parts.map((part) => this.send(part))).then(
        (answers) => entry.resolve(joinAnswers(answers)),
        entry.reject,
      );
    } else {
      this.logger.error({ t: message.t, reason }, 'agent request cannot be sent');
      entry.reject(next.error);
    }
  }

  private receive(data: Buffer): void {
    let messages: unknown[];
    try {
      messages = decodeFrame(data);
    } catch (err) {
      this.logger.error({ err }, 'undecodable frame from the server');
      return;
    }
    for (const raw of messages) {
      const message = raw as { t?: string };
      if (message.t === 'reply') {
        const reply = raw as { id: number; ok: boolean; result?: unknown; error?: { code: string; message: string } };
        const sent = this.pending.get(reply.id);
        if (!sent) continue;
        if (!reply.ok && reply.error?.code === 'AGENT_NOT_REGISTERED' && sent.message.t !== 'register') {
          // The server forgot this agent (declared dead while it was cut off): register again,
          // then this request goes out once more. It stays pending, its timeout still running.
          this.ws?.terminate();
          continue;
        }
        const entry = this.pending.take(reply.id);
        if (!entry) continue;
        if (reply.ok) entry.resolve(reply.result);
        else entry.reject(new BatonError(reply.error?.code ?? 'INTERNAL', reply.error?.message ?? 'failed', 400));
      } else if (message.t === 'deliver') {
        this.inbox?.deliver((raw as { assignments: Parameters<AgentInbox['deliver']>[0] }).assignments);
      } else if (message.t === 'abort') {
        const { jobIds, reason, preempt } = raw as { jobIds: string[]; reason: string; preempt?: unknown };
        this.inbox?.abort(jobIds, reason, preempt === true ? { preempt: true } : undefined);
      }
    }
  }

  /** The connection dropped: reconnect with backoff, re-register, re-send what was unanswered. */
  private lost(): void {
    this.ws = null;
    if (this._state === 'closed') return;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this._state = 'reconnecting';
    const lostFrom = this.servers[this.current % this.servers.length]?.http;
    // The next attempt goes to the next server of the fleet, if there are several.
    this.current++;
    this.logger.warn({ server: lostFrom }, 'lost the connection to the server; reconnecting');
    this.pending.holdUnanswered();
    this.outbox = [];
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this._state === 'closed') return;
    const delay = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(this.options.reconnectMaxMs ?? 2000, this.reconnectDelayMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.reconnect();
    }, delay);
  }

  private async reconnect(): Promise<void> {
    if (this._state === 'closed') return;
    try {
      await this.open();
      const registered = await this.registerNow();
      this.logger.info({ agentId: registered.agentId, abort: registered.abort ?? [] }, 'reconnected to the server');
      this.inbox?.reregistered?.(registered);
      if (registered.abort?.length) this.inbox?.abort(registered.abort, 'lease lost while disconnected');
    } catch (err) {
      if ((err as BatonError).code === 'RESUME_REFUSED') {
        // Another connection holds this id on that server: join as a new agent. Jobs running
        // here keep their leases by heartbeat; only the server's accounting of them is lost.
        this.logger.error({ agentId: this.ticket.id }, 'the server refused to resume this agent; registering anew');
        this.ticket.forget();
        this.ws?.terminate();
        this.ws = null;
        return this.scheduleReconnect(); // the same server, now without resume
      }
      const fatal = (err as BatonError).details as { fatal?: boolean } | undefined;
      if (fatal?.fatal) {
        this.logger.error({ err }, 'the server refused this agent; giving up');
        this.close();
        this.options.onRefused?.(err as Error);
        return;
      }
      this.logger.warn({ err: (err as Error).message }, 'reconnect failed; retrying');
      this.current++;
      this.ws?.terminate();
      this.ws = null;
      this.scheduleReconnect();
    }
  }
}
