/**
 * The page's one WebSocket to `/api/events`. A browser cannot set an Authorization header on a
 * WebSocket, so the token goes in the first message (never in the URL). Events are wake-ups,
 * not a log: after every (re)connect listeners hear `resync` and read the state again over HTTP,
 * which is how nothing missed while offline stays missed.
 */
export type StreamEvent =
  | { type: 'enqueued'; queues: string[] }
  | { type: 'changed' }
  | { type: 'cancelled'; jobId: string }
  | { type: 'logs'; jobId: string }
  | { type: 'capacity' }
  | { type: 'resync' };

export type StreamStatus = 'connecting' | 'live' | 'offline' | 'refused';

type Listener = (event: StreamEvent) => void;

export class EventStream {
  private socket: WebSocket | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly statusListeners = new Set<(s: StreamStatus) => void>();
  private retryMs = 500;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  status: StreamStatus = 'connecting';

  constructor(private readonly token: string) {
    this.connect();
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  onStatus(listener: (s: StreamStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => void this.statusListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close(1000);
  }

  private setStatus(status: StreamStatus): void {
    this.status = status;
    this.statusListeners.forEach((l) => l(status));
  }

  private connect(): void {
    if (this.closed) return;
    this.setStatus('connecting');
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token: this.token }));
    socket.onmessage = (message) => {
      let event: { type?: string };
      try {
        event = JSON.parse(String(message.data)) as { type?: string };
      } catch {
        return;
      }
      if (event.type === 'ready') {
        this.retryMs = 500;
        this.setStatus('live');
        this.emit({ type: 'resync' });
        return;
      }
      this.emit(event as StreamEvent);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      // 44xx: the server refused this token; trying again would be refused again (and count).
      if (close.code >= 4400 && close.code < 4500 && close.code !== 4429) {
        this.setStatus('refused');
        return;
      }
      this.setStatus('offline');
      this.timer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  private emit(event: StreamEvent): void {
    this.listeners.forEach((l) => l(event));
  }
}
