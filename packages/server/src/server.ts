import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { AgentLink } from '@baton/core';
import type { Store } from '@baton/store';
import { attachAgentSocket } from './agents/agent-socket.js';
import { AgentGateway } from './agents/gateway.js';
import { SchedulerLoop } from './agents/scheduler-loop.js';
import { registerAgentsRoutes } from './http/agents-routes.js';
import { installErrorHandling } from './http/errors.js';
import { registerJobsRoutes } from './http/jobs-routes.js';
import { registerSystemRoutes } from './http/system-routes.js';
import type { ResolvedServerOptions, ServerOptions } from './options.js';
import { resolveServerOptions } from './options.js';
import { TaskRoutes } from './task-routes.js';

const CLOSE_GRACE_MS = 5000;

export interface BatonServer {
  readonly app: FastifyInstance;
  readonly options: ResolvedServerOptions;
  readonly gateway: AgentGateway;
  readonly scheduler: SchedulerLoop | null;
  /** A link for an agent in this process. */
  localLink(): AgentLink;
  /** Listens and returns the base URL. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops scheduling and serving. The store stays open: its owner closes it. Idempotent. */
  close(): Promise<void>;
}

/**
 * A Baton server on a store: the HTTP API, the agent gateway and (unless disabled) the
 * scheduler loop. Stateless apart from its connected agents, so many can share one store.
 */
export function createBatonServer(store: Store, options: ServerOptions & { logger?: Logger } = {}): BatonServer {
  const resolved = resolveServerOptions(options);
  const logger = options.logger ?? pino({ level: 'warn' });
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    disableRequestLogging: true,
    bodyLimit: resolved.maxBulkBodyBytes,
  });
  const gateway = new AgentGateway(store, {
    leaseMs: resolved.leaseMs,
    heartbeatMs: resolved.heartbeatMs,
    agentTimeoutMs: resolved.agentTimeoutMs,
    logger,
  });
  const scheduler = resolved.scheduler
    ? new SchedulerLoop(store, gateway, { leaseMs: resolved.leaseMs, maxSweepMs: resolved.maxSweepMs, logger })
    : null;
  const routes = new TaskRoutes(store);
  const unsubscribe = store.subscribe((event) => {
    if (event.type === 'cancelled') gateway.abort(event.jobId, event.agentId, 'job was cancelled');
  });

  // The API speaks JSON only: a text/plain body is refused with 415 rather than half-read.
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app);
  registerJobsRoutes(app, {
    store,
    routes,
    gateway,
    scheduler,
    maxPayloadBytes: resolved.maxPayloadBytes,
    maxBulkBodyBytes: resolved.maxBulkBodyBytes,
  });
  registerSystemRoutes(app, { store, scheduler });
  registerAgentsRoutes(app, { gateway });
  let detachAgentSocket: (() => void) | null = null;

  let closed = false;
  return {
    app,
    options: resolved,
    gateway,
    scheduler,
    localLink: () => gateway.localLink(),
    async listen(port, host = '127.0.0.1') {
      gateway.start();
      scheduler?.start();
      detachAgentSocket ??= attachAgentSocket(app.server, gateway, { agentToken: resolved.agentToken, logger });
      await app.listen({ port, host });
      const address = app.server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      return `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    },
    async close() {
      if (closed) return;
      closed = true;
      scheduler?.stop();
      gateway.stop();
      detachAgentSocket?.();
      unsubscribe();
      // In-flight requests get a grace period; a client that stops reading must not hold the
      // shutdown for the whole keep-alive timeout.
      const force = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
      force.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
    },
  };
}
