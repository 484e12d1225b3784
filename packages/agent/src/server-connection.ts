import { AGENT_CONNECT_PATH, BatonError, MAX_SERVER_FRAME_BYTES } from '@baton/core';
import WebSocket from 'ws';

/** One server of the fleet: the URL the operator gave, and the agent endpoint's WebSocket URL. */
export interface ServerEndpoint {
  http: string;
  ws: string;
}

/**
 * The agent endpoints of the given servers: `http://`/`ws://`, or `https://`/`wss://` for a
 * server started with `--tls-cert`. Throws `INVALID_OPTION` for none or another scheme.
 */
export function serverEndpoints(serverUrl: string | readonly string[]): ServerEndpoint[] {
  const servers = typeof serverUrl === 'string' ? [serverUrl] : [...serverUrl];
  if (servers.length === 0) throw new BatonError('INVALID_OPTION', 'no server URL given', 400);
  return servers.map((server) => {
    const base = new URL(server);
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(base.protocol)) {
      throw new BatonError('INVALID_OPTION', `server URL must be http(s):// or ws(s)://, got ${server}`, 400);
    }
    base.protocol = base.protocol === 'https:' || base.protocol === 'wss:' ? 'wss:' : 'ws:';
    base.pathname = base.pathname.replace(/\/$/, '') + AGENT_CONNECT_PATH;
    return { http: server, ws: base.toString() };
  });
}

/**
 * A server whose TLS certificate cannot be trusted: final, like a refused token (retrying
 * cannot fix it, and an impostor must not get the token). Null for other errors.
 */
function untrustedServer(err: Error, server: string): BatonError | null {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (!/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/.test(code)) return null;
  return new BatonError(
    'TLS_UNTRUSTED',
    `cannot trust the TLS certificate of ${server}: ${err.message} (give its CA with --ca FILE)`,
    400,
    { fatal: true },
  );
}

/** Refusals that no retry can fix: the agent stops instead of reconnecting forever. */
const FATAL_STATUS: Record<number, string> = {
  401: 'the server refused the agent token (check --token, --token-file or BATON_AGENT_TOKEN)',
  403: 'the server takes no remote agents (start it with --agent-token)',
  404: 'the server has no agent endpoint at this URL (is it a Baton server?)',
};

/** The server answered the WebSocket upgrade with an HTTP status: fatal for those no retry can fix. */
function refusedConnection(status: number | undefined): BatonError {
  const why = FATAL_STATUS[status ?? 0];
  const code = status === 401 ? 'INVALID_AGENT_TOKEN' : 'AGENT_REFUSED';
  return new BatonError(code, why ?? `the server answered ${status} to the agent connection`, 400, {
    status,
    fatal: why !== undefined,
  });
}

export interface ConnectOptions {
  token: string;
  /** PEM CA certificates to trust instead of the system's. */
  ca?: string | Buffer | undefined;
  /** A frame from the server. */
  onMessage(data: Buffer): void;
  /** The socket closed (only ever after it opened). */
  onClose(ws: WebSocket): void;
}

/**
 * Opens the agent socket to one server; rejects with a clear error on a refusal (a refused
 * token, an untrusted certificate: `fatal`) or a connection failure (`UNREACHABLE`).
 */
export function connectToServer(server: ServerEndpoint, options: ConnectOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.ws, {
      headers: { authorization: `Bearer ${options.token}` },
      maxPayload: MAX_SERVER_FRAME_BYTES,
      handshakeTimeout: 10_000,
      ...(options.ca !== undefined && { ca: options.ca }),
    });
    let settled = false;
    ws.on('unexpected-response', (_request, response) => {
      settled = true;
      reject(refusedConnection(response.statusCode));
      ws.terminate();
    });
    ws.on('open', () => {
      settled = true;
      resolve(ws);
    });
    ws.on('error', (err) => {
      if (!settled) {
        settled = true;
        reject(
          untrustedServer(err, server.http) ??
            new BatonError('UNREACHABLE', `cannot reach Baton at ${server.http}: ${err.message}`, 503),
        );
      }
    });
    ws.on('message', (data: Buffer) => options.onMessage(data));
    ws.on('close', () => options.onClose(ws));
  });
}
