import { randomBytes } from 'node:crypto';
import { destination, pino } from 'pino';
import type { Logger } from 'pino';
import { BatonError, MIN_AGENT_TOKEN_LENGTH } from '@baton/core';
import type { BatonConfig } from '@baton/core';
import type { Store } from '@baton/store';
import type { BatonServer } from '@baton/server';
import { CliError, intOption } from './cli-error.js';
import { durationOption } from './duration.js';
import { readFlagFile, readSecretFile } from './flag-files.js';
import type { Command } from 'commander';

/** Flags `baton dev` and `baton server` share. */
export interface ServeOptions {
  port: number;
  host: string;
  store: string;
  leaseMs?: number;
  heartbeatMs?: number;
  agentTimeoutMs?: number;
  reconnectGraceMs?: number;
  routeTtl?: number;
  trustProxy?: string;
  /** `--no-fair-share` sets it false. */
  fairShare?: boolean;
  fairShareHalfLife?: number;
  shardLeaseMs?: number;
  maxPayloadBytes?: number;
  retainSucceeded?: number;
  retainFailed?: number;
  retainCancelled?: number;
  agentToken?: string;
  agentTokenFile?: string;
  /** `--admin-token`; `BATON_ADMIN_TOKEN` is read where the command decides (never a help default). */
  adminToken?: string;
  /** `baton server --insecure-no-auth`. */
  insecureNoAuth?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** `--config baton.yaml`: the pools whose scaling the server decides. */
  config?: string;
  /** `--no-metrics` sets it false; `BATON_METRICS` is read where the server is made (see {@link metricsOf}). */
  metrics?: boolean;
  logLevel: string;
  /** The pools of a baton.yaml already loaded (`baton dev --autoscale`); else `config` is read. */
  scalingConfig?: BatonConfig;
}

export function withServeOptions(command: Command, defaults: { store: string; port: number }): Command {
  return command
    .option('--port <n>', 'HTTP port (0 picks a free one)', intOption('--port', 0, 65535), defaults.port)
    .option('--config <file>', 'baton.yaml: the agent pools whose scaling this server decides (GET /api/scaling)')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--store <url>', 'store URL (or BATON_STORE)', process.env.BATON_STORE ?? defaults.store)
    .option(
      '--lease-ms <ms>',
      'lease of an assignment without a heartbeat (default 10000)',
      intOption('--lease-ms', 100),
    )
    .option('--heartbeat-ms <ms>', 'agent heartbeat interval (default 2000, lease/5)', intOption('--heartbeat-ms', 10))
    .option(
      '--agent-timeout-ms <ms>',
      'an agent silent this long is dead and its jobs run elsewhere (default: the lease)',
      intOption('--agent-timeout-ms', 100),
    )
    .option(
      '--reconnect-grace-ms <ms>',
      'an agent whose connection closed and is not back this long after is lost: its jobs run elsewhere at once (default 3000, or --agent-timeout-ms if shorter)',
      intOption('--reconnect-grace-ms', 0),
    )
    .option(
      '--route-ttl <duration>',
      "how long an agent's task routes stay live unrenewed: a task whose last agent left is refused this long after (90s, 15m, plain ms; default 5m)",
      routeTtlOption,
    )
    .option(
      '--trust-proxy <addresses>',
      'reverse proxies in front of the API (IPs or CIDR ranges, comma-separated): their X-Forwarded-For names the client',
    )
    .option('--no-metrics', 'serve no /metrics (or BATON_METRICS=false; default: served, without a token)')
    .option('--no-fair-share', "run users' jobs first come, first served within a priority class (default: fair share)")
    .option(
      '--fair-share-half-life <duration>',
      "how fast users' recent usage fades under fair share: 30m, 1h, 1d, plain ms; at least 1s (default 1h)",
      halfLifeOption,
    )
    .option(
      '--shard-lease-ms <ms>',
      "how long a scheduler's hold on its shards lasts unrenewed; a dead scheduler's shards move after it (default 5000)",
      intOption('--shard-lease-ms', 250),
    )
    .option(
      '--agent-token <token>',
      `secret remote agents connect with, ≥ ${MIN_AGENT_TOKEN_LENGTH} characters (or BATON_AGENT_TOKEN; default: generated and printed)`,
      process.env.BATON_AGENT_TOKEN,
    )
    .option('--agent-token-file <path>', 'read the agent token from this file (kept out of the process list)')
    .option(
      '--admin-token <token>',
      `the built-in admin's API token, ≥ ${MIN_AGENT_TOKEN_LENGTH} characters (or BATON_ADMIN_TOKEN): acts as user admin, to create users and their tokens`,
    )
    .option('--tls-cert <file>', 'serve HTTPS and WSS with this PEM certificate (chain); needs --tls-key')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--max-payload-bytes <n>', 'largest job payload (default 1048576)', intOption('--max-payload-bytes', 1))
    .option(
      '--retain-succeeded <duration>',
      'delete succeeded jobs this long after they finished: 90s, 15m, 12h, 7d, plain ms; 0 keeps forever (default 7d)',
      durationOption('--retain-succeeded', 'keeps forever'),
    )
    .option(
      '--retain-failed <duration>',
      'delete failed jobs this long after they finished; 0 keeps forever (default 30d)',
      durationOption('--retain-failed', 'keeps forever'),
    )
    .option(
      '--retain-cancelled <duration>',
      'delete cancelled jobs this long after they finished; 0 keeps forever (default 7d)',
      durationOption('--retain-cancelled', 'keeps forever'),
    )
    .option('--log-level <level>', 'fatal | error | warn | info | debug', 'warn')
    .hook('preAction', (self) => {
      if (self.getOptionValue('agentTokenFile') !== undefined && self.getOptionValueSource('agentToken') === 'cli') {
        throw new CliError('give --agent-token or --agent-token-file, not both', 2);
      }
    });
}

/** `--fair-share-half-life`: a duration of at least a second. */
function halfLifeOption(value: string): number {
  const ms = durationOption('--fair-share-half-life')(value);
  if (ms < 1000) throw new CliError(`--fair-share-half-life must be at least 1s, got "${value}"`, 2);
  return ms;
}

/** `--route-ttl`: a duration of at least 100 ms (a route that lives for nothing is no route). */
function routeTtlOption(value: string): number {
  const ms = durationOption('--route-ttl')(value);
  if (ms < 100) throw new CliError(`--route-ttl must be at least 100ms, got "${value}"`, 2);
  return ms;
}

export interface Serving {
  store: Store;
  server: BatonServer;
  agentToken: string;
  /** Listens; returns the URL. Closes everything and throws a CliError if it cannot. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

const warn = (line: string): void => void process.stderr.write(`baton: warning: ${line}\n`);

/** The TLS certificate and key, read before anything opens; null for plain HTTP. */
function tlsOf(options: ServeOptions): { cert: Buffer; key: Buffer } | null {
  if (options.tlsCert === undefined && options.tlsKey === undefined) return null;
  if (options.tlsCert === undefined || options.tlsKey === undefined) {
    throw new CliError('--tls-cert and --tls-key go together: give both, or neither for plain HTTP', 2);
  }
  return { cert: readFlagFile('--tls-cert', options.tlsCert), key: readFlagFile('--tls-key', options.tlsKey) };
}

/**
 * The server's logger, on stderr. Fastify logs no request headers, but should anything ever
 * log one, or the options, the tokens in them show as [Redacted].
 */
export function serveLogger(level: string): Logger {
  return pino(
    {
      level,
      redact: [
        'req.headers.authorization',
        'headers.authorization',
        'adminToken',
        'agentToken',
        '*.adminToken',
        '*.agentToken',
      ],
    },
    destination(2),
  );
}

/**
 * Whether to serve `/metrics`: not with `--no-metrics`; else as `BATON_METRICS` says (`true`,
 * `false`, `1` or `0`); else yes. Any other value of `BATON_METRICS` is an error, not a guess.
 */
export function metricsOf(options: Pick<ServeOptions, 'metrics'>, env: NodeJS.ProcessEnv = process.env): boolean {
  if (options.metrics === false) return false;
  const value = env.BATON_METRICS;
  if (value === undefined || value === '') return true;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new CliError(`BATON_METRICS must be true, false, 1 or 0 (got ${JSON.stringify(value.slice(0, 40))})`, 2);
}

/** `--admin-token` given on the command line, else `BATON_ADMIN_TOKEN`, else none. */
export function adminTokenOf(options: ServeOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return options.adminToken ?? (env.BATON_ADMIN_TOKEN || undefined);
}

/** Refuses an admin token too short to be safe, or one that cannot be sent in a header; never says it. */
function checkAdminToken(token: string): void {
  if (token.length < MIN_AGENT_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    throw new CliError(
      `--admin-token (or BATON_ADMIN_TOKEN) must be at least ${MIN_AGENT_TOKEN_LENGTH} printable characters without spaces (${token.length} given)`,
      2,
    );
  }
}

/** Opens the store and builds the server from the shared flags, with clear errors. */
export async function serve(options: ServeOptions, logger: Logger): Promise<Serving> {
  const tls = tlsOf(options);
  const metrics = metricsOf(options);
  if (options.adminToken !== undefined) checkAdminToken(options.adminToken);
  const givenToken =
    options.agentTokenFile === undefined
      ? options.agentToken
      : readSecretFile('--agent-token-file', options.agentTokenFile, warn);
  // The store's drivers and the server load here, not with the CLI: other commands start without them.
  const [{ openStore }, { createBatonServer, loadConfigFile }] = await Promise.all([
    import('@baton/store'),
    import('@baton/server'),
  ]);
  let store: Store;
  try {
    store = await openStore(options.store);
  } catch (err) {
    throw new CliError(`cannot open store ${options.store}: ${err instanceof Error ? err.message : String(err)}`);
  }
  // A generated token is printed once at start; a given one is never printed.
  const agentToken = givenToken ?? randomBytes(24).toString('base64url');
  let server: BatonServer;
  try {
    const scalingConfig =
      options.scalingConfig ?? (options.config !== undefined ? loadConfigFile(options.config) : null);
    server = createBatonServer(store, {
      scalingConfig,
      logger,
      agentToken,
      adminToken: options.insecureNoAuth ? null : (options.adminToken ?? null),
      insecureNoAuth: options.insecureNoAuth ?? false,
      tls,
      metrics,
      ...(options.leaseMs !== undefined && { leaseMs: options.leaseMs }),
      ...(options.heartbeatMs !== undefined && { heartbeatMs: options.heartbeatMs }),
      ...(options.agentTimeoutMs !== undefined && { agentTimeoutMs: options.agentTimeoutMs }),
      ...(options.reconnectGraceMs !== undefined && { reconnectGraceMs: options.reconnectGraceMs }),
      ...(options.routeTtl !== undefined && { routeTtlMs: options.routeTtl }),
      ...(options.fairShare !== undefined && { fairShare: options.fairShare }),
      ...(options.trustProxy !== undefined && { trustProxy: options.trustProxy }),
      ...(options.fairShareHalfLife !== undefined && { fairShareHalfLifeMs: options.fairShareHalfLife }),
      ...(options.shardLeaseMs !== undefined && { shardLeaseMs: options.shardLeaseMs }),
      ...(options.maxPayloadBytes !== undefined && { maxPayloadBytes: options.maxPayloadBytes }),
      retention: {
        ...(options.retainSucceeded !== undefined && { succeededMs: options.retainSucceeded }),
        ...(options.retainFailed !== undefined && { failedMs: options.retainFailed }),
        ...(options.retainCancelled !== undefined && { cancelledMs: options.retainCancelled }),
      },
    });
  } catch (err) {
    await store.close();
    if (err instanceof BatonError) throw new CliError(err.message, 2);
    // Node's TLS layer refuses a malformed certificate or key, or a key that is not the certificate's.
    if (tls) throw new CliError(`--tls-cert/--tls-key: ${err instanceof Error ? err.message : String(err)}`, 2);
    throw err;
  }
  const close = async () => {
    await server.close();
    await store.close();
  };
  return {
    store,
    server,
    agentToken,
    async listen() {
      try {
        return await server.listen(options.port, options.host);
      } catch (err) {
        await close();
        const code = (err as { code?: string }).code;
        if (code === 'EADDRINUSE')
          throw new CliError(`port ${options.port} is already in use; pass --port with another one`);
        // Another live server holds this SQLite file: one server per file.
        if (err instanceof BatonError && code === 'STORE_IN_USE') throw new CliError(`${err.message} (${code})`);
        throw err;
      }
    },
    close,
  };
}

/**
 * The line that tells a person how to connect an agent. The token goes in the environment, not
 * the agent's argv, which every user of the machine can read (`ps`, /proc/PID/cmdline); a token
 * the operator gave is never printed.
 */
export function agentHint(url: string, options: ServeOptions, agentToken: string): string {
  const given = options.agentToken !== undefined || options.agentTokenFile !== undefined;
  const words = [
    given ? null : `BATON_AGENT_TOKEN=${agentToken}`,
    'baton agent --server',
    url,
    given ? '--token-file FILE' : null,
    options.tlsCert === undefined ? null : '[--ca CA.pem]',
    '[--gpus N] [--allow-commands] [--tasks ./tasks.js]',
  ];
  return `  agents: ${words.filter((w) => w !== null).join(' ')}`;
}

/** Stops on SIGINT/SIGTERM once, running `stop` and exiting 0. */
export function onShutdown(stop: (signal: string) => Promise<void>): void {
  let stopping: Promise<void> | null = null;
  const handler = (signal: string) => {
    stopping ??= stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`baton: error while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => handler('SIGINT'));
  process.once('SIGTERM', () => handler('SIGTERM'));
}
