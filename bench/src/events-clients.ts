import { WebSocket } from 'ws';

/**
 * The events workload's stream clients, a process of their own (forked by events.ts): opens
 * `clients` WebSockets on `GET /api/events` with the admin token, counts each one's messages
 * and bytes, and records when each first received an `enqueued` event naming a marker queue
 * (`<prefix>…`). Only messages holding the prefix are parsed. Times are `process.hrtime`
 * (CLOCK_MONOTONIC, comparable with the producer's). On `stop`, reports everything.
 *
 * argv: url clients markerPrefix; the token comes in BATON_TOKEN.
 */

export interface ClientRecord {
  messages: number;
  bytes: number;
  /** The connection closed before `stop` (the server drops clients over 1 MiB behind). */
  closedEarly: boolean;
  closeCode: number | null;
  /**
   * Marker queue → when this client first saw it in an `enqueued` event: `process.hrtime` ms
   * and wall-clock epoch ms (to compare with the server's `createdAt`).
   */
  markers: Record<string, [number, number]>;
}

export interface ClientsReport {
  type: 'report';
  clients: ClientRecord[];
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Set on `stop`: the closes that follow are ours, not the server's. */
let stopping = false;

interface Open {
  ws: WebSocket;
  record: ClientRecord;
}

function connect(url: string, token: string, prefixText: string): Promise<Open> {
  const prefix = Buffer.from(prefixText);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/events`, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    const record: ClientRecord = { messages: 0, bytes: 0, closedEarly: false, closeCode: null, markers: {} };
    ws.on('message', (data: Buffer) => {
      const at = nowMs();
      record.messages++;
      record.bytes += data.length;
      if (data.indexOf(prefix) < 0) return;
      const event = JSON.parse(data.toString()) as { type?: string; queues?: string[] };
      if (event.type !== 'enqueued' || !event.queues) return;
      const wall = performance.timeOrigin + performance.now();
      for (const q of event.queues) if (q.startsWith(prefixText)) record.markers[q] ??= [at, wall];
    });
    ws.once('open', () => resolve({ ws, record }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`events upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
    ws.on('close', (code) => {
      if (!stopping) record.closedEarly = true;
      record.closeCode = code;
    });
  });
}

async function main(): Promise<void> {
  const [url, clientsText, prefixText] = process.argv.slice(2);
  const token = process.env.BATON_TOKEN ?? '';
  const prefix = prefixText ?? 'marker-';
  const opened: Open[] = [];
  // A few at a time: the upgrade checks the token in the store.
  const count = Number(clientsText);
  for (let i = 0; i < count; i += 10) {
    const batch = Array.from({ length: Math.min(10, count - i) }, () => connect(url ?? '', token, prefix));
    opened.push(...(await Promise.all(batch)));
  }
  process.on('message', (m: { type?: string }) => {
    if (m.type !== 'stop') return;
    stopping = true;
    for (const { ws } of opened) ws.terminate();
    process.send?.(
      { type: 'report', clients: opened.map((o) => o.record) } satisfies ClientsReport,
      undefined,
      {},
      () => process.exit(0),
    );
  });
  process.send?.({ type: 'ready' });
}

main().catch((err: unknown) => {
  process.send?.({ type: 'error', error: err instanceof Error ? err.message : String(err) }, undefined, {}, () =>
    process.exit(1),
  );
});
