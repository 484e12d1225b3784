import { randomBytes } from 'node:crypto';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { AgentLink, LingeringReport } from '@baton/core';
import type { Store } from '@baton/store';
import { agentSocket } from './agents/agent-socket.js';
import { PREEMPT_REASON } from './agents/preemption-step.js';
import { Authenticator } from './auth/authenticator.js';
import { installAuthentication } from './http/authentication.js';
import { registerQuotaRoutes } from './http/quota-routes.js';
import { registerUsersRoutes } from './http/users-routes.js';
import { FleetShares } from './fairness/fleet-shares.js';
import { UsageAccountant } from './fairness/usage-accountant.js';
import { QuotaBook } from './quota/quota-book.js';
import { SubmitLimits } from './quota/submit-limits.js';
import { eventsSocket } from './http/events-socket.js';
import { routeUpgrades } from './http/upgrades.js';
import { AgentGateway } from './agents/gateway.js';
import { AgentReporter } from './agents/agent-reporter.js';
import type { AgentSession } from './agents/agent-session.js';
import { FleetView } from './agents/fleet-view.js';
import { SchedulerLoop } from './agents/scheduler-loop.js';
import { ShardKeeper } from './agents/shard-keeper.js';
import { registerAgentsRoutes } from './http/agents-routes.js';
import { installErrorHandling } from './http/errors.js';
import { registerJobsRoutes } from './http/jobs-routes.js';
import { registerJobActionsRoutes } from './http/job-actions-routes.js';
import { installJsonBodyParser } from './http/json-body.js';
import { registerSystemRoutes } from './http/system-routes.js';
import { registerWorkflowsRoutes } from './http/workflows-routes.js';
import { registerWorkflowStepsRoute } from './http/workflow-steps-route.js';
import { registerScalingRoutes } from './http/scaling-routes.js';
import { registerDashboardRoutes } from './dashboard/routes.js';
import { registerOverviewRoutes } from './http/overview-routes.js';
import { OverviewHistory } from './overview/overview-history.js';
import { fleetAgentViews } from './agents/fleet-agent-views.js';
import { PoolScaler, poolSignals } from './scaling/pool-scaler.js';
import { PoolRoutes } from './scaling/pool-routes.js';
import type { ResolvedServerOptions, ServerOptions } from './options.js';
import { resolveServerOptions } from './options.js';
import { RetentionSweeper } from './retention.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import type { PoolSignals } from './metrics/fleet-figures.js';
import { TaskRoutes } from './task-routes.js';
import { WorkflowGrowth } from './workflow-growth.js';
import { RuntimeEstimates } from './estimates/runtime-estimates.js';
import { RuntimeRecorder } from './estimates/runtime-recorder.js';

const CLOSE_GRACE_MS = 5000;

export interface BatonServer {
  readonly app: FastifyInstance;
  readonly options: ResolvedServerOptions;
  readonly gateway: AgentGateway;
  readonly scheduler: SchedulerLoop | null;
  /** Deletes finished jobs past their retention, when this server holds scheduler shard 0. */
  readonly retention: RetentionSweeper;
  /** This server's id among the servers sharing its store. */
  readonly serverId: string;
  /** Decides who each API request acts as (see auth/authenticator.ts). */
  readonly auth: Authenticator;
  /** How many agents each pool of `scalingConfig` should have (`GET /api/scaling`). */
  readonly scaling: PoolScaler;
  /** A link for an agent in this process. */
  localLink(): AgentLink & LingeringReport;
  /** Listens and returns the base URL. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops scheduling and serving. The store stays open: its owner closes it. Idempotent. */
  close(): Promise<void>;
}

/**
 * A Baton server on a store: the HTTP API, the agent gateway and (unless disabled) the
 * scheduler loop. Stateless apart from its connected agents, so many can share one store.
 */
export function createBatonServer(
  store: Store,
  options: ServerOptions & {
    logger?: Logger;
    /** Each pool's desired agents and stranded GPUs, for `/metrics` (from the scaling work); none: no such series. */
    poolSignals?: PoolSignals;
  } = {},
): BatonServer {
  const resolved = resolveServerOptions(options);
  const logger = options.logger ?? pino({ level: 'warn' });
  // With TLS, Fastify serves on an https.Server: the same request, upgrade and close API.
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request lines off (the API logs what matters itself); fastify 5.12 takes this through
    // a LogController, and warns on every start when given as the old top-level option.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: resolved.maxBulkBodyBytes,
    ...(resolved.trustProxy !== null && { trustProxy: resolved.trustProxy }),
    ...(resolved.tls && { https: { cert: resolved.tls.cert, key: resolved.tls.key } }),
  }) as unknown as FastifyInstance;
  const routes = new TaskRoutes(store);
  const quotas = new QuotaBook(store);
  // One set of submit limits: jobs, workflow steps and steps added to running workflows draw on
  // the same rate and quota.
  const limits = new SubmitLimits(store, quotas);
  // Agents (addSteps) and command steps (POST /api/workflows/:id/steps) grow workflows alike.
  const growth = new WorkflowGrowth({ store, routes, limits, maxPayloadBytes: resolved.maxPayloadBytes });
  // One id per server process: it names the server's agent report, its scheduler and its metrics.
  const serverId = `server-${randomBytes(6).toString('hex')}`;
  // Created before the parts that count into it; it reads the gateway's agents only at scrape time.
  const metrics = resolved.metrics
    ? new ServerMetrics({
        store,
        serverId,
        agents: (): readonly AgentSession[] => gateway.agents(),
        // The scaling decisions (made when stale): desired agents and stranded GPUs per pool.
        poolSignals: options.poolSignals ?? (async () => poolSignals(await scaling.current())),
        logger,
      })
    : null;
  // Learned runtimes: succeeded attempts recorded in batches, estimates cached for placement.
  const runtimes = new RuntimeRecorder(store, { logger, flushMs: resolved.runtimeFlushMs });
  const gateway: AgentGateway = new AgentGateway(store, {
    leaseMs: resolved.leaseMs,
    heartbeatMs: resolved.heartbeatMs,
    agentTimeoutMs: resolved.agentTimeoutMs,
    reconnectGraceMs: resolved.reconnectGraceMs,
    routeTtlMs: resolved.routeTtlMs,
    logger,
    growth,
    metrics: metrics?.jobs,
    runtimes,
  });
  // The other servers' agents, as their reports say: the scheduler places onto them, and every
  // server (one without a scheduler too) explains a pending job against the whole fleet.
  const fleet = new FleetView(store, serverId);
  const fleetAgents = async () => [...gateway.capacity(), ...(await fleet.remote()).map((r) => r.capacity)];
  const shards = resolved.scheduler
    ? new ShardKeeper(store, { schedulerId: serverId, leaseMs: resolved.shardLeaseMs, logger })
    : null;
  const scheduler = shards
    ? new SchedulerLoop(store, gateway, {
        shares: new FleetShares(store, resolved.fairShareHalfLifeMs),
        quotas,
        fairShare: resolved.fairShare,
        leaseMs: resolved.leaseMs,
        maxSweepMs: resolved.maxSweepMs,
        logger,
        serverId,
        shards,
        fleet,
        metrics: metrics?.jobs,
        estimates: new RuntimeEstimates(store, { logger, refreshMs: resolved.runtimeRefreshMs }),
      })
    : null;
  const reporter = new AgentReporter(store, gateway, {
    serverId,
    intervalMs: resolved.heartbeatMs,
    ttlMs: Math.max(resolved.shardLeaseMs, resolved.heartbeatMs * 3),
    logger,
    // A server without a scheduler cannot tell who listens: it reports every change.
    othersListening: () => (shards ? shards.liveSchedulers > 1 : true),
  });
  // Once per fleet: the server holding shard 0 sweeps (a server without a scheduler never does).
  const retention = new RetentionSweeper(store, {
    retention: resolved.retention,
    isSweeper: () => shards?.owned.has(0) ?? false,
    logger,
  });
  // Usage for fair share is charged once per fleet, by the holder of shard 0 (like retention).
  const accountant = new UsageAccountant(store, {
    halfLifeMs: resolved.fairShareHalfLifeMs,
    isAccountant: () => shards?.owned.has(0) ?? false,
    logger,
  });
  const scaling = new PoolScaler({
    store,
    config: resolved.scalingConfig,
    fleetAgents,
    connectedAt: (id) => gateway.agents().find((s) => s.id === id)?.connectedAt,
    logger,
  });
  const overview = new OverviewHistory(store, { logger });
  const poolRoutes = resolved.scalingConfig
    ? new PoolRoutes(store, resolved.scalingConfig, { routeTtlMs: resolved.routeTtlMs, logger })
    : null;
  const unsubscribe = store.subscribe((event) => {
    // Work for a pool at zero is decided on at once, not at the next sync.
    if (event.type === 'enqueued') scaling.enqueued(event.queues);
    if (event.type === 'cancelled') gateway.abort(event.jobId, event.agentId, 'job was cancelled');
    // Another server's scheduler placed jobs on this server's agents.
    // Another server's scheduler preempts jobs on this server's agents.
    if (event.type === 'preempt' && event.serverId === serverId) gateway.preempt(event.victims, PREEMPT_REASON);
    if (event.type === 'offer' && event.serverId === serverId) {
      gateway.admit(event.placements).catch((err: unknown) => logger.error({ err }, 'could not admit offered jobs'));
    }
  });

  const auth = new Authenticator(store, {
    adminToken: resolved.adminToken,
    insecureNoAuth: resolved.insecureNoAuth,
  });

  // The API speaks JSON only: a text/plain body is refused with 415 rather than half-read.
  app.removeContentTypeParser('text/plain');
  installJsonBodyParser(app);
  installErrorHandling(app);
  installAuthentication(app, auth);
  metrics?.install(app);
  registerJobsRoutes(app, {
    limits,
    store,
    routes,
    scheduler,
    fleetAgents,
    metrics: metrics?.jobs,
    maxPayloadBytes: resolved.maxPayloadBytes,
    maxBulkBodyBytes: resolved.maxBulkBodyBytes,
  });
  registerJobActionsRoutes(app, { store, limits, metrics: metrics?.jobs });
  registerWorkflowsRoutes(app, {
    store,
    routes,
    limits,
    maxPayloadBytes: resolved.maxPayloadBytes,
    maxBulkBodyBytes: resolved.maxBulkBodyBytes,
  });
  registerWorkflowStepsRoute(app, {
    growth,
    maxPayloadBytes: resolved.maxPayloadBytes,
    maxBulkBodyBytes: resolved.maxBulkBodyBytes,
  });
  registerSystemRoutes(app, { store, scheduler });
  registerUsersRoutes(app, { store, auth, quotas });
  registerQuotaRoutes(app, { store, quotas });
  registerAgentsRoutes(app, { gateway, store, serverId, shards });
  registerScalingRoutes(app, { scaler: scaling });
  registerDashboardRoutes(app);
  registerOverviewRoutes(app, {
    history: overview,
    attention: {
      store,
      scheduler,
      fleetAgents,
      agentViews: () => fleetAgentViews({ gateway, store, serverId }),
      strandedGpus: async () => (await scaling.current()).strandedGpus,
    },
  });
  let detachAgentSocket: (() => void) | null = null;

  let closed = false;
  return {
    app,
    options: resolved,
    gateway,
    scheduler,
    retention,
    serverId,
    auth,
    scaling,
    localLink: () => gateway.localLink(),
    async listen(port, host = '127.0.0.1') {
      // Before anything runs: a second server on one SQLite file is refused (STORE_IN_USE).
      await store.claimServer(serverId);
      gateway.start();
      reporter.start();
      await shards?.start();
      scheduler?.start();
      retention.start();
      if (resolved.fairShare) accountant.start();
      if (resolved.scalingConfig) scaling.start();
      poolRoutes?.start();
      overview.start();
      detachAgentSocket ??= routeUpgrades(app.server, [
        agentSocket(gateway, { agentToken: resolved.agentToken, logger }),
        eventsSocket(store, auth),
      ]);
      await app.listen({ port, host });
      const address = app.server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      const scheme = resolved.tls ? 'https' : 'http';
      return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    },
    async close() {
      if (closed) return;
      closed = true;
      scheduler?.stop();
      scaling.stop();
      poolRoutes?.stop();
      await overview.stop();
      await retention.stop();
      await accountant.stop();
      reporter.stop();
      await shards?.stop();
      gateway.stop();
      // Runtimes of attempts that succeeded so far are written before the store is closed.
      await runtimes.stop();
      detachAgentSocket?.();
      unsubscribe();
      routes.close();
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
