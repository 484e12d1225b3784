import { isIP } from 'node:net';
import { BatonError, DEFAULT_LEASE_MS, DEFAULT_MAX_PAYLOAD_BYTES, MIN_AGENT_TOKEN_LENGTH } from '@baton/core';
import type { BatonConfig } from '@baton/core';
import type { RetentionOptions } from './retention.js';
import { resolveRetention } from './retention.js';

/** Everything a Baton server can be told. Every field is optional; defaults in brackets. */
export interface ServerOptions {
  /** Longest a job's lease lasts without a heartbeat before it runs elsewhere. [10 000] */
  leaseMs?: number;
  /** How often agents heartbeat. [leaseMs / 5] */
  heartbeatMs?: number;
  /** Largest job payload, as JSON bytes. [1 MiB] */
  maxPayloadBytes?: number;
  /** Largest body of a bulk submission. [32 MiB] */
  maxBulkBodyBytes?: number;
  /** Run the scheduler loop in this server. [true] */
  scheduler?: boolean;
  /** Longest idle sleep of the scheduler between sweeps. [1 000] */
  maxSweepMs?: number;
  /**
   * An agent silent this long (its connection open, nothing arriving) is dead and its capacity
   * goes; its jobs run elsewhere once their leases run out. [leaseMs]
   */
  agentTimeoutMs?: number;
  /**
   * An agent whose connection closed and that is not back (on this server or another of the
   * fleet) this long after is lost: its jobs go back to the queue at once (`AGENT_LOST`), without
   * waiting for their leases. At most `agentTimeoutMs`. [min(3 000, agentTimeoutMs)]
   */
  reconnectGraceMs?: number;
  /**
   * How long an agent's task routes stay live in the store without renewal. Its server renews
   * them while it has the agent's session; once the agent left (or was lost, or went with its
   * server) they lapse within this, and submissions of a task no agent serves any more are
   * refused again (`UNKNOWN_TASK`). Long enough that an agent restarting in a rolling deploy does
   * not make submissions fail meanwhile. [300 000: 5 minutes]
   */
  routeTtlMs?: number;
  /**
   * The built-in admin's token: a request with `Authorization: Bearer <adminToken>` acts as the
   * admin `admin` (not a stored user), so a new fleet can create its users. At least 16
   * characters. Null: only the store's users' tokens authenticate. [null]
   */
  adminToken?: string | null;
  /**
   * Serve the API without authentication: every request acts as an admin, and `X-Baton-User`
   * names the owner (default `local`). For a laptop or a trusted test only. [false]
   */
  insecureNoAuth?: boolean;
  /**
   * Addresses of reverse proxies in front of the API (comma-separated IPs or CIDR ranges, as
   * Fastify's `trustProxy` takes them): a request from one of them is taken to come from the
   * address its `X-Forwarded-For` names, so the bad-token slow-down counts each client, not the
   * proxy. Null: requests come from their connection's address. [null]
   */
  trustProxy?: string | null;
  /**
   * Interleave users' pending jobs by fair share within each queue and priority class (weight,
   * recent usage in resource-time, what they hold now). Off: first come, first served. [true]
   */
  fairShare?: boolean;
  /** How fast recent usage fades under fair share: its half-life in ms. [3 600 000: 1 hour] */
  fairShareHalfLifeMs?: number;
  /**
   * Learned runtimes: how often the scheduler reads the runtime history of the job classes it
   * meets (one store call), which is also how old a class's cached estimate may grow. [5 000]
   */
  runtimeRefreshMs?: number;
  /** Learned runtimes: longest a succeeded attempt's runtime waits to be written, in a batch. [1 000] */
  runtimeFlushMs?: number;
  /**
   * The secret remote agents present to connect (`baton agent --token`). Null: remote agents
   * are refused. [null]
   */
  agentToken?: string | null;
  /**
   * How long a scheduler's hold on its shards (and its liveness) lasts without renewal: a
   * scheduler that dies has its shards taken over within this and a fifth of it. [5 000]
   */
  shardLeaseMs?: number;
  /**
   * Serve HTTPS (and WSS for agents and event sockets) with this PEM certificate chain and
   * private key, as Node's `tls.createServer` takes them. Null: plain HTTP. [null]
   */
  tls?: ServerTlsOptions | null;
  /**
   * How long finished jobs are kept per final state (0: forever), and how often the fleet's
   * sweeper deletes older ones (see retention.ts). [succeeded 7 d, failed 30 d, cancelled 7 d, every 60 s]
   */
  retention?: Partial<RetentionOptions>;
  /**
   * The pools of a `baton.yaml` (see loadConfigFile): `GET /api/scaling` decides how many agents
   * each should have. Null: no pools are configured and nothing is decided. [null]
   */
  scalingConfig?: BatonConfig | null;
  /**
   * Serve `GET /metrics` (Prometheus text, no token; refused through a proxy) and keep the
   * counters behind it. Off: `/metrics` is a 404. [true]
   */
  metrics?: boolean;
}

/** A server's TLS certificate (chain) and its private key, PEM. */
export interface ServerTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

export type ResolvedServerOptions = Required<Omit<ServerOptions, 'retention'>> & { retention: RetentionOptions };

/** How long an agent's task routes stay live without renewal (see `routeTtlMs`). */
export const DEFAULT_ROUTE_TTL_MS = 5 * 60_000;

/** How long an agent whose connection closed may take to come back and keep its jobs. */
export const DEFAULT_RECONNECT_GRACE_MS = 3000;

/** Fills defaults and fails fast, naming the option, on values that cannot work. */
export function resolveServerOptions(options: ServerOptions = {}): ResolvedServerOptions {
  const leaseMs = positiveInt('leaseMs', options.leaseMs ?? DEFAULT_LEASE_MS, 100);
  const heartbeatMs = positiveInt('heartbeatMs', options.heartbeatMs ?? Math.max(50, Math.floor(leaseMs / 5)), 10);
  if (heartbeatMs >= leaseMs) {
    throw new BatonError(
      'INVALID_OPTION',
      `heartbeatMs (${heartbeatMs}) must be shorter than leaseMs (${leaseMs})`,
      400,
    );
  }
  const agentTimeoutMs = positiveInt('agentTimeoutMs', options.agentTimeoutMs ?? leaseMs, 100);
  if (heartbeatMs >= agentTimeoutMs) {
    throw new BatonError(
      'INVALID_OPTION',
      `heartbeatMs (${heartbeatMs}) must be shorter than agentTimeoutMs (${agentTimeoutMs})`,
      400,
    );
  }
  const reconnectGraceMs = positiveInt(
    'reconnectGraceMs',
    options.reconnectGraceMs ?? Math.min(DEFAULT_RECONNECT_GRACE_MS, agentTimeoutMs),
    0,
  );
  if (reconnectGraceMs > agentTimeoutMs) {
    throw new BatonError(
      'INVALID_OPTION',
      `reconnectGraceMs (${reconnectGraceMs}) must not be longer than agentTimeoutMs (${agentTimeoutMs})`,
      400,
    );
  }
  const agentToken = options.agentToken ?? null;
  if (agentToken !== null && agentToken.length < MIN_AGENT_TOKEN_LENGTH) {
    throw new BatonError(
      'INVALID_OPTION',
      `the agent token must be at least ${MIN_AGENT_TOKEN_LENGTH} characters; leave it out and one is generated`,
      400,
    );
  }
  const adminToken = options.adminToken ?? null;
  if (adminToken !== null && adminToken.length < MIN_AGENT_TOKEN_LENGTH) {
    throw new BatonError(
      'INVALID_OPTION',
      `the admin token must be at least ${MIN_AGENT_TOKEN_LENGTH} characters`,
      400,
    );
  }
  const tls = options.tls ?? null;
  if (tls !== null && (tls.cert.length === 0 || tls.key.length === 0)) {
    throw new BatonError('INVALID_OPTION', 'tls needs both a certificate and a private key', 400);
  }
  return {
    leaseMs,
    agentTimeoutMs,
    reconnectGraceMs,
    routeTtlMs: positiveInt('routeTtlMs', options.routeTtlMs ?? DEFAULT_ROUTE_TTL_MS, 100),
    tls,
    shardLeaseMs: positiveInt('shardLeaseMs', options.shardLeaseMs ?? 5000, 250),
    agentToken,
    adminToken,
    insecureNoAuth: options.insecureNoAuth ?? false,
    trustProxy: trustedProxies(options.trustProxy ?? null),
    fairShare: options.fairShare ?? true,
    fairShareHalfLifeMs: positiveInt('fairShareHalfLifeMs', options.fairShareHalfLifeMs ?? 3_600_000, 1000),
    runtimeRefreshMs: positiveInt('runtimeRefreshMs', options.runtimeRefreshMs ?? 5000, 10),
    runtimeFlushMs: positiveInt('runtimeFlushMs', options.runtimeFlushMs ?? 1000, 10),
    heartbeatMs,
    maxPayloadBytes: positiveInt('maxPayloadBytes', options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES, 1),
    maxBulkBodyBytes: positiveInt('maxBulkBodyBytes', options.maxBulkBodyBytes ?? 32 * 1024 * 1024, 1024),
    scheduler: options.scheduler ?? true,
    maxSweepMs: positiveInt('maxSweepMs', options.maxSweepMs ?? 1000, 10),
    retention: resolveRetention(options.retention),
    scalingConfig: options.scalingConfig ?? null,
    metrics: options.metrics ?? true,
  };
}

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new BatonError('INVALID_OPTION', `${name} must be an integer ≥ ${min}, got ${value}`, 400);
  }
  return value;
}

/** `trustProxy`: each entry an IP address or CIDR range (IPv4 or IPv6), or null. */
function trustedProxies(value: string | null): string | null {
  if (value === null) return null;
  const entries = value.split(',').map((e) => e.trim());
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = address === undefined ? 0 : isIP(address);
    const maxBits = family === 4 ? 32 : 128;
    const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !bitsOk || extra !== undefined) {
      throw new BatonError(
        'INVALID_OPTION',
        `trustProxy: "${entry}" is not an IP address or CIDR range (like 10.0.0.1 or 10.0.0.0/8)`,
        400,
      );
    }
  }
  return entries.join(',');
}
