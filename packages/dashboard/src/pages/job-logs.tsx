import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api.js';
import { useSession } from '../context.js';

interface Chunk {
  stream: 'stdout' | 'stderr';
  data: string;
  seq: number;
  attempt: number;
}

/** Output kept on the page: the newest 512 KiB; older text is dropped from view (not from the store). */
const KEEP_CHARS = 512 * 1024;

/**
 * A job's output, read a page at a time after the last `seq` seen, and read on whenever the
 * event stream says the job has new output. Plain text nodes: output is never parsed as HTML.
 */
export function JobLogs(props: { jobId: string; final: boolean }) {
  const { api, stream } = useSession();
  const [text, setText] = useState('');
  const [cut, setCut] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    let last: number | null = null;
    let reading = false;
    let again = false;
    let stopped = false;
    setText('');
    const read = async (): Promise<void> => {
      if (reading) return void (again = true);
      reading = true;
      try {
        for (;;) {
          const page = await api.get<{ chunks: Chunk[]; lastSeq: number | null; more?: boolean }>(
            `/api/jobs/${props.jobId}/logs`,
            { format: 'json', after: last ?? undefined },
          );
          if (stopped) return;
          if (page.chunks.length) {
            const added = page.chunks.map((c) => c.data).join('');
            setText((old) => {
              const next = old + added;
              if (next.length <= KEEP_CHARS) return next;
              setCut(true);
              return next.slice(next.length - KEEP_CHARS);
            });
          }
          last = page.lastSeq ?? last;
          if (!page.more) break;
        }
        setError(null);
      } catch (err) {
        if (!stopped) setError(describeError(err));
      } finally {
        reading = false;
        if (again && !stopped) {
          again = false;
          void read();
        }
      }
    };
    void read();
    const off = stream.on((e) => {
      if ((e.type === 'logs' && e.jobId === props.jobId) || e.type === 'resync') void read();
    });
    return () => {
      stopped = true;
      off();
    };
  }, [props.jobId]);

  useEffect(() => {
    const el = box.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [text, follow]);

  return (
    <section class="card" aria-labelledby="logs-title">
      <h2 id="logs-title">
        Output{' '}
        {!props.final && (
          <label class="check small">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> keep the
            newest in view
          </label>
        )}
      </h2>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      {cut && <p class="muted small">Showing the newest 512 KiB of output.</p>}
      <pre ref={box} class="logs" tabIndex={0} aria-label="Job output" aria-live={props.final ? 'off' : 'polite'}>
        {text || (props.final ? 'No output.' : 'No output yet.')}
      </pre>
    </section>
  );
}
