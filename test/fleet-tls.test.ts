import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proc } from './fleet.js';
import { AGENT_TOKEN, FAST, startBaton, until } from './fleet.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-tls-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
const otherCert = join(dir, 'other-cert.pem');
const tokenFile = join(dir, 'token');

/** A self-signed certificate for 127.0.0.1 and localhost, which is also its own CA. */
function selfSigned(certPath: string, keyPath: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
}

/** A JSON API call over HTTPS trusting `ca` (global fetch cannot be given a CA without undici). */
function api(
  url: string,
  path: string,
  body?: unknown,
  ca = readFileSync(cert),
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url + path,
      {
        method: body === undefined ? 'GET' : 'POST',
        ca,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* logs are text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function finished(url: string, id: string) {
  return until(`job ${id} to finish`, async () => {
    const { body } = await api(url, `/api/jobs/${id}`);
    return ['succeeded', 'failed', 'cancelled'].includes(body.state) ? body : undefined;
  });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TLS between servers, agents and clients', () => {
  const procs: Proc[] = [];
  let url = '';
  beforeAll(async () => {
    selfSigned(cert, key);
    selfSigned(otherCert, join(dir, 'other-key.pem'));
    writeFileSync(tokenFile, AGENT_TOKEN, { mode: 0o600 });
    const server = startBaton([
      'server',
      '--insecure-no-auth',
      '--port',
      '0',
      '--store',
      'sqlite::memory:',
      '--agent-token-file',
      tokenFile,
      '--tls-cert',
      cert,
      '--tls-key',
      key,
      ...FAST,
    ]);
    procs.push(server);
    url = (await server.waitFor(/listening on (\S+)/))[1]!;
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
  });

  it('serves HTTPS: listen prints an https:// URL, and the hint names --ca', async () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect((await api(url, '/healthz')).status).toBe(200);
    expect(procs[0]!.output()).toMatch(/agents: baton agent --server https:\/\/\S+ --token-file FILE \[--ca CA\.pem\]/);
  });

  it.each([
    ['an https:// URL', (u: string) => u],
    ['a wss:// URL', (u: string) => u.replace(/^https:/, 'wss:')],
  ])('an agent given %s and --ca connects over WSS and runs a command job', async (_what, serverUrl) => {
    const agent = startBaton([
      'agent',
      '--server',
      serverUrl(url),
      '--ca',
      cert,
      '--token-file',
      tokenFile,
      '--allow-commands',
      '--name',
      `tls-${procs.length}`,
    ]);
    procs.push(agent);
    await agent.waitFor(/connected to (wss|https):\/\/\S+ as agent-\S+:/);
    const { status, body } = await api(url, '/api/jobs', {
      task: 'command',
      payload: { argv: ['sh', '-c', 'echo over tls'] },
    });
    expect(status).toBe(201);
    const done = await finished(url, body.id);
    expect(done.state).toBe('succeeded');
    expect((await api(url, `/api/jobs/${body.id}/logs`)).body).toBe('over tls\n');
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it.each([
    ['no --ca', [] as string[]],
    ['the wrong --ca', ['--ca', otherCert]],
  ])('an agent with %s refuses the server: exit 1, naming --ca, without waiting for it', async (_what, extra) => {
    const agent = startBaton(['agent', '--server', url, '--token-file', tokenFile, '--demo', ...extra]);
    procs.push(agent);
    expect((await agent.exited).code).toBe(1);
    expect(agent.output()).toMatch(
      /baton: cannot trust the TLS certificate of https:\/\/\S+: .* \(give its CA with --ca FILE\)/,
    );
    expect(agent.output()).not.toMatch(/waiting for the server/);
  });

  it('baton client commands trust the server through NODE_EXTRA_CA_CERTS', async () => {
    const jobs = startBaton(['jobs', '--server', url, '--json'], { NODE_EXTRA_CA_CERTS: cert });
    expect((await jobs.exited).code).toBe(0);
    expect(JSON.parse(jobs.output()).jobs.length).toBeGreaterThan(0);
  });
});

describe('TLS flag mistakes', () => {
  const run = async (args: string[]) => {
    const p = startBaton(['server', '--insecure-no-auth', '--port', '0', '--store', 'sqlite::memory:', ...args]);
    return { code: (await p.exited).code, output: p.output() };
  };

  it('--tls-cert without --tls-key is a usage error', async () => {
    const { code, output } = await run(['--tls-cert', cert]);
    expect(code).toBe(2);
    expect(output).toMatch(/--tls-cert and --tls-key go together/);
  });

  it('a missing certificate file is a usage error naming the flag', async () => {
    const { code, output } = await run(['--tls-cert', join(dir, 'nope.pem'), '--tls-key', key]);
    expect(code).toBe(2);
    expect(output).toMatch(/--tls-cert: no such file .*nope\.pem/);
  });

  it('a file that is not a PEM key is a usage error', async () => {
    const { code, output } = await run(['--tls-cert', cert, '--tls-key', tokenFile]);
    expect(code).toBe(2);
    expect(output).toMatch(/baton: --tls-cert\/--tls-key: /);
  });

  it('baton agent with a missing --ca file is a usage error', async () => {
    const p = startBaton([
      'agent',
      '--server',
      'https://127.0.0.1:9',
      '--token',
      AGENT_TOKEN,
      '--demo',
      '--ca',
      join(dir, 'nope.pem'),
    ]);
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toMatch(/--ca: no such file/);
  });
});
