import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { StreamEvent } from './events.js';
import { useSession } from './context.js';

export interface Live<T> {
  data: T | null;
  error: unknown;
  reload: () => void;
}

interface LiveOptions {
  /** Event types that make the data stale (a `resync` always does). */
  events?: StreamEvent['type'][];
  /** Only events for which this holds (e.g. of one job). */
  match?: (event: StreamEvent) => boolean;
  /** Read again at least this often, events or not (ms). */
  pollMs?: number;
  /** At most one read per this many ms however many events arrive (default 1 000). */
  throttleMs?: number;
}

/**
 * Data read over HTTP and read again when the event stream says it changed: at most once a
 * second however fast events come (1 000 jobs/s must not mean 1 000 reads/s), and the old data
 * stays on screen while the new is read, so rows update in place instead of flashing.
 */
export function useLive<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  options: LiveOptions = {},
): Live<T> {
  const { stream } = useSession();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const state = useRef({ inFlight: null as AbortController | null, again: false, last: 0, timer: 0 });
  const loadRef = useRef(load);
  loadRef.current = load;
  const throttleMs = options.throttleMs ?? 1000;

  const run = useCallback(() => {
    const s = state.current;
    if (s.inFlight) {
      s.again = true;
      return;
    }
    const wait = s.last + throttleMs - Date.now();
    if (wait > 0) {
      if (!s.timer) s.timer = window.setTimeout(() => ((s.timer = 0), run()), wait);
      return;
    }
    const controller = new AbortController();
    s.inFlight = controller;
    s.last = Date.now();
    loadRef
      .current(controller.signal)
      .then(
        (value) => {
          if (controller.signal.aborted) return;
          setData(value);
          setError(null);
        },
        (err: unknown) => {
          if (!controller.signal.aborted) setError(err);
        },
      )
      .finally(() => {
        if (s.inFlight !== controller) return;
        s.inFlight = null;
        if (s.again) {
          s.again = false;
          run();
        }
      });
  }, [throttleMs]);

  useEffect(() => {
    // New inputs (a filter changed): drop what is in flight and read at once.
    const s = state.current;
    s.inFlight?.abort();
    s.inFlight = null;
    s.again = false;
    s.last = 0;
    run();
    const types = options.events ?? [];
    const off = stream.on((event) => {
      if (event.type === 'resync' || (types.includes(event.type) && (options.match?.(event) ?? true))) run();
    });
    const poll = options.pollMs ? window.setInterval(run, options.pollMs) : 0;
    return () => {
      off();
      if (poll) clearInterval(poll);
      if (s.timer) clearTimeout(s.timer);
      s.timer = 0;
      s.inFlight?.abort();
      s.inFlight = null;
    };
  }, deps);

  return { data, error, reload: run };
}
