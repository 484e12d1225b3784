import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AgentInbox, AgentRequest, JobAssignment, ServerMessage } from '@baton/core';
import {
  AGENT_CONNECT_PATH,
  AGENT_POLICY_CLOSE,
  AGENT_PROTOCOL_VERSION,
  BatonError,
  MAX_AGENT_FRAME_BYTES,
  MAX_FRAME_VALUES,
  agentRequestSchema,
  decodeFrame,
  describeIssues,
  frameShape,
} from '@baton/core';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { frameServerMessages } from './agent-frames.js';
import { AgentFrameGuard, measureLists } from './frame-guard.js';
import type { AgentConnection, AgentGateway } from './gateway.js';
import type { UpgradeEndpoint } from '../http/upgrades.js';
import { refuse } from '../http/upgrades.js';

export interface AgentSocketOptions {
  /** The shared secret agents present as `Authorization: Bearer …`; null refuses every agent. */
  agentToken: string | null;
  logger: Logger;
}

/**
 * Remote agents' endpoint: a WebSocket at `/api/agents/connect`, authenticated by the agent
 * token before the upgrade. Frames are msgpack arrays of messages (see core's agent-wire).
 */
export function agentSocket(gateway: AgentGateway, options: AgentSocketOptions): UpgradeEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_AGENT_FRAME_BYTES });
  const expected = options.agentToken === null ? null : digest(options.agentToken);

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (expected === null) {
      return refuse(socket, 403, 'AGENTS_DISABLED', 'this server takes no remote agents: start it with --agent-token');
    }
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!token || !timingSafeEqual(digest(token), expected)) {
      options.logger.warn({ remote: request.socket.remoteAddress }, 'agent refused: bad agent token');
      return refuse(socket, 401, 'INVALID_AGENT_TOKEN', 'the agent token is missing or wrong');
    }
    wss.handleUpgrade(request, socket, head, (ws) =>
      serveAgent(ws, gateway, options.logger, request.socket.remoteAddress),
    );
  };
  return {
    path: AGENT_CONNECT_PATH,
    upgrade: onUpgrade,
    close: () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** One agent's WebSocket: decodes, validates and answers its requests; pushes work to it. */
function serveAgent(ws: WebSocket, gateway: AgentGateway, logger: Logger, remote: string | undefined): void {
  let outbox: ServerMessage[] = [];
  let flushing = false;
  const send = (message: ServerMessage) => {
    outbox.push(message);
    if (flushing) return;
    flushing = true;
    // Messages produced in one turn of the event loop travel in one frame (or a few, by the limits).
    setImmediate(() => {
      flushing = false;
      const batch = outbox;
      outbox = [];
      const { frames, undeliverable, dropped } = frameServerMessages(batch);
      if (ws.readyState === ws.OPEN) for (const frame of frames) ws.send(frame);
      for (const { message, reason } of dropped) logger.error({ t: message.t, reason }, 'agent message dropped');
      if (undeliverable.length > 0) {
        connection.undeliverable(undeliverable).catch((err: unknown) => {
          logger.error({ err }, 'could not fail undeliverable jobs; their leases will run out');
        });
      }
    });
  };
  const inbox: AgentInbox = {
    deliver: (assignments: JobAssignment[]) => send({ t: 'deliver', assignments }),
    abort: (jobIds, reason, options) =>
      send({ t: 'abort', jobIds, reason, ...(options?.preempt && { preempt: true }) }),
    held: () => [],
  };
  const connection = gateway.connect(inbox);
  const guard = new AgentFrameGuard();
  const cutOff = (why: string) => {
    logger.warn({ remote, agentId: connection.agentId(), why }, 'agent cut off');
    ws.close(AGENT_POLICY_CLOSE, why);
  };

  ws.on('ping', () => connection.seen());
  ws.on('message', (data: Buffer, isBinary) => {
    if (guard.closed) return;
    connection.seen();
    // Measured before decoding, which allocates per value: a flood costs one walk over the bytes.
    const tooMuch = guard.checkFrame(frameShape(data, MAX_FRAME_VALUES));
    if (tooMuch) return cutOff(tooMuch);
    let messages: unknown[];
    try {
      if (!isBinary) throw new Error('agent frames are binary msgpack');
      messages = decodeFrame(data);
    } catch (err) {
      logger.warn({ err, remote }, 'undecodable agent frame; closing the connection');
      guard.closed = true;
      ws.close(1003, 'undecodable frame');
      return;
    }
    for (const message of messages) {
      handle(message);
      if (guard.closed) return;
    }
  });
  ws.on('close', () => {
    guard.closed = true;
    connection.disconnected();
  });
  ws.on('error', (err) => logger.warn({ err, remote }, 'agent connection error'));

  const handle = (raw: unknown) => {
    const id = typeof (raw as { id?: unknown } | null)?.id === 'number' ? (raw as { id: number }).id : -1;
    const lists = measureLists(raw);
    const parsed = lists.over === null ? agentRequestSchema.safeParse(raw) : null;
    if (!parsed?.success) {
      const burst = guard.invalid(Date.now(), lists.weight);
      if (burst) return cutOff(burst);
      const message = parsed ? describeIssues(parsed.error).message : (lists.over ?? 'invalid message');
      return send({ t: 'reply', id, ok: false, error: { code: 'INVALID_AGENT_MESSAGE', message } });
    }
    void answer(id, parsed.data as AgentRequest);
  };
  const answer = async (id: number, request: AgentRequest) => {
    try {
      const result = await dispatch(connection, request);
      send({ t: 'reply', id, ok: true, result: result ?? null });
    } catch (err) {
      const code = err instanceof BatonError ? err.code : 'INTERNAL';
      const message = err instanceof Error ? err.message : String(err);
      if (!(err instanceof BatonError)) logger.error({ err }, 'agent request failed');
      send({ t: 'reply', id, ok: false, error: { code, message } });
    }
  };
}

function dispatch(connection: AgentConnection, request: AgentRequest): Promise<unknown> {
  switch (request.t) {
    case 'register':
      if (request.protocol !== AGENT_PROTOCOL_VERSION) {
        throw new BatonError(
          'PROTOCOL_MISMATCH',
          `agent speaks protocol ${request.protocol}, this server ${AGENT_PROTOCOL_VERSION}: run the same Baton version`,
          400,
        );
      }
      return connection.register(request.registration);
    case 'started':
      return connection.started(request.items);
    case 'heartbeat':
      return connection.heartbeat(request.items);
    case 'complete':
      return connection.complete(request.items);
    case 'logs':
      return connection.logs(request.chunks);
    case 'gpuHealth':
      return connection.gpuHealth(request.gpus);
    case 'lingering':
      return connection.lingering(request.jobs);
    case 'addSteps': {
      const { t: _t, id: _id, ...rest } = request;
      return connection.addSteps(rest);
    }
    case 'drain':
      return connection.drain();
    case 'unregister':
      return connection.unregister();
  }
}
