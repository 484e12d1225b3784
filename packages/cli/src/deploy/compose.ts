import type { BatonConfig, PoolConfig } from '@baton/core';
import { agentCommand, connectedProbe, stopGraceSeconds } from './agent-command.js';
import { SERVER_PORT, serverUrl } from './names.js';
import { CONFIG_PATH, serverConfigText } from './config-text.js';
import type { RenderedFile } from './rendered-file.js';
import { generatedHeader, yamlText } from './rendered-file.js';

/**
 * `--target compose`: one `docker-compose.yml` for a single machine. PostgreSQL and Redis are
 * both there; `BATON_STORE` in `baton-server.env` picks the one the servers use. Nothing has a
 * `container_name` or a fixed host port, so `docker compose up --scale server=3 --scale
 * agent-NAME=5` works. Secrets come from env files next to the compose file, never from it.
 */

/** Host ports the server replicas publish on 127.0.0.1, one each: a range, so replicas never collide. */
const HOST_PORT_RANGE = 10;
const SERVER_ENV_FILE = 'baton-server.env';
const AGENT_ENV_FILE = 'baton-agent.env';
const POSTGRES_ENV_FILE = 'postgres.env';
/** The servers' baton.yaml, written beside the compose file (not `baton.yaml`: that may be the source). */
const CONFIG_FILE = 'baton-config.yaml';

/** Container hardening: no new privileges and no capabilities (Baton binds an unprivileged port). */
const HARDENED = { cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'] };

const serverReady =
  `fetch('http://127.0.0.1:${SERVER_PORT}/readyz')` + '.then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))';

function serverService(config: BatonConfig): Record<string, unknown> {
  const { servers, image } = config.deploy;
  const ports = Math.max(servers, HOST_PORT_RANGE);
  return {
    image,
    command: ['server', '--host', '0.0.0.0', '--port', String(SERVER_PORT), '--config', CONFIG_PATH],
    // The pools whose scaling the servers decide (`baton scaling`), as rendered.
    configs: [{ source: 'baton-config', target: CONFIG_PATH }],
    // BATON_STORE, BATON_ADMIN_TOKEN, BATON_AGENT_TOKEN.
    env_file: [SERVER_ENV_FILE],
    ports: [`127.0.0.1:${SERVER_PORT}-${SERVER_PORT + ports - 1}:${SERVER_PORT}`],
    depends_on: { postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } },
    healthcheck: {
      test: ['CMD', 'node', '-e', serverReady],
      interval: '10s',
      timeout: '5s',
      retries: 3,
      start_period: '30s',
    },
    read_only: true,
    tmpfs: ['/tmp'],
    ...HARDENED,
    restart: 'unless-stopped',
    deploy: { replicas: servers },
  };
}

function agentService(config: BatonConfig, pool: PoolConfig): Record<string, unknown> {
  const resources: Record<string, unknown> = {};
  if (pool.cpu !== undefined || pool.memoryMb !== undefined) {
    resources.limits = {
      ...(pool.cpu !== undefined && { cpus: String(pool.cpu) }),
      ...(pool.memoryMb !== undefined && { memory: `${pool.memoryMb}M` }),
    };
  }
  if (pool.gpusPerAgent !== undefined) {
    resources.reservations = { devices: [{ driver: 'nvidia', count: pool.gpusPerAgent, capabilities: ['gpu'] }] };
  }
  return {
    image: config.deploy.image,
    // Compose reads `$` as the start of a variable: an argument's own `$` is written `$$`.
    command: agentCommand(pool, serverUrl('server')).map((arg) => arg.replaceAll('$', '$$$$')),
    // BATON_AGENT_TOKEN only: an agent never sees the store URL or the admin token.
    env_file: [AGENT_ENV_FILE],
    depends_on: { server: { condition: 'service_healthy' } },
    healthcheck: { test: ['CMD', ...connectedProbe(SERVER_PORT)], interval: '30s', timeout: '5s', retries: 3 },
    // SIGTERM drains the agent's running jobs: give it the drain before SIGKILL.
    stop_grace_period: `${stopGraceSeconds(pool)}s`,
    ...HARDENED,
    restart: 'unless-stopped',
    deploy: {
      // Compose has no autoscaler: the pool's floor, at least one, until `--scale` says otherwise.
      replicas: Math.max(pool.min, 1),
      ...(Object.keys(resources).length > 0 && { resources }),
    },
  };
}

export function composeFile(config: BatonConfig): Record<string, unknown> {
  const services: Record<string, unknown> = {
    postgres: {
      image: 'postgres:16-bookworm',
      environment: { POSTGRES_USER: 'baton', POSTGRES_DB: 'baton' },
      // POSTGRES_PASSWORD.
      env_file: [POSTGRES_ENV_FILE],
      volumes: ['postgres-data:/var/lib/postgresql/data'],
      healthcheck: {
        test: ['CMD', 'pg_isready', '-U', 'baton', '-d', 'baton'],
        interval: '5s',
        timeout: '5s',
        retries: 20,
      },
      restart: 'unless-stopped',
    },
    redis: {
      image: 'redis:7-bookworm',
      command: ['redis-server', '--appendonly', 'yes'],
      volumes: ['redis-data:/data'],
      healthcheck: { test: ['CMD', 'redis-cli', 'ping'], interval: '5s', timeout: '5s', retries: 20 },
      restart: 'unless-stopped',
    },
    server: serverService(config),
  };
  for (const pool of config.pools) services[`agent-${pool.name}`] = agentService(config, pool);
  return {
    services,
    volumes: { 'postgres-data': {}, 'redis-data': {} },
    configs: { 'baton-config': { file: `./${CONFIG_FILE}` } },
  };
}

export function renderCompose(config: BatonConfig): RenderedFile[] {
  return [
    { path: 'docker-compose.yml', content: generatedHeader('compose') + yamlText([composeFile(config)]) },
    { path: CONFIG_FILE, content: generatedHeader('compose') + serverConfigText(config) },
  ];
}
