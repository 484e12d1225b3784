import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** A WebSocket endpoint: the upgrade of requests to its path, and closing its sockets. */
export interface UpgradeEndpoint {
  path: string;
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

/** Routes WebSocket upgrades by path; other paths get a JSON 404. Returns a detach function. */
export function routeUpgrades(server: Server, endpoints: readonly UpgradeEndpoint[]): () => void {
  const byPath = new Map(endpoints.map((e) => [e.path, e]));
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '').split('?')[0] ?? '';
    const endpoint = byPath.get(path);
    if (!endpoint) return refuse(socket, 404, 'NOT_FOUND', `no WebSocket endpoint at ${path}`);
    endpoint.upgrade(request, socket, head);
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const e of endpoints) e.close();
  };
}

/** Answers an upgrade request with an HTTP error in the API's JSON shape, and closes. */
export function refuse(
  socket: Duplex,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ error: { code, message, details: null } });
  const reasons: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    429: 'Too Many Requests',
    503: 'Service Unavailable',
  };
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${reasons[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}
