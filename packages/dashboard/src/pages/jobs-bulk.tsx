import { useState } from 'preact/hooks';
import { describeError } from '../api.js';
import { useSession } from '../context.js';
import { Confirm } from '../components/confirm.js';
import { count } from '../format.js';
import type { JobFilters } from './job-filters.js';
import { apiFilter } from './job-filters.js';

interface BulkResult {
  matched: number;
  acted: number;
  skipped: number;
  truncated: boolean;
}

type Action = 'cancel' | 'retry';

/**
 * Cancel or retry every job the filters match. The server first counts what would change (a dry
 * run) and the count is shown before anything runs; the filter is fixed at that moment (the time
 * window included), so what runs is what was counted, give or take jobs that changed state.
 */
export function BulkActions(props: { filters: JobFilters; onDone: () => void }) {
  const { api } = useSession();
  const [pending, setPending] = useState<{
    action: Action;
    filter: Record<string, string | number>;
    preview: BulkResult;
  } | null>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ text: string; error?: boolean } | null>(null);

  const preview = async (action: Action): Promise<void> => {
    setMessage(null);
    setBusy(true);
    const filter = apiFilter(props.filters);
    try {
      const result = await api.post<BulkResult>(`/api/jobs/bulk-${action}`, { filter, dryRun: true });
      if (result.acted === 0)
        setMessage({ text: `No matching job can be ${action === 'cancel' ? 'cancelled' : 'retried'}.` });
      else setPending({ action, filter, preview: result });
    } catch (err) {
      setMessage({ text: describeError(err), error: true });
    } finally {
      setBusy(false);
    }
  };

  const run = async (): Promise<void> => {
    if (!pending) return;
    setBusy(true);
    try {
      const r = await api.post<BulkResult>(`/api/jobs/bulk-${pending.action}`, { filter: pending.filter });
      setMessage({
        text: `${pending.action === 'cancel' ? 'Cancelled' : 'Retried'} ${count(r.acted)} jobs${r.skipped ? `; ${count(r.skipped)} skipped (their state had changed)` : ''}${r.truncated ? '; more matched than one request takes, run it again for the rest' : ''}.`,
      });
      props.onDone();
    } catch (err) {
      setMessage({ text: describeError(err), error: true });
    } finally {
      setBusy(false);
      setPending(null);
    }
  };

  const p = pending?.preview;
  return (
    <div class="bulk">
      <button type="button" disabled={busy} onClick={() => void preview('cancel')}>
        Cancel matching…
      </button>
      <button type="button" disabled={busy} onClick={() => void preview('retry')}>
        Retry matching…
      </button>
      {message && (
        <span class={`notice inline ${message.error ? 'error' : ''}`} role="status">
          {message.text}
        </span>
      )}
      {pending && p && (
        <Confirm
          title={pending.action === 'cancel' ? 'Cancel these jobs?' : 'Retry these jobs?'}
          confirmLabel={`${pending.action === 'cancel' ? 'Cancel' : 'Retry'} ${count(p.acted)} jobs`}
          busy={busy}
          onConfirm={() => void run()}
          onCancel={() => setPending(null)}
        >
          <p>
            <strong data-testid="bulk-count">{count(p.acted)}</strong> of {count(p.matched)} matching jobs will be{' '}
            {pending.action === 'cancel' ? 'cancelled' : 'submitted again as new jobs'}
            {p.skipped ? ` (${count(p.skipped)} are in a state this does not apply to)` : ''}.
            {p.truncated && ' More match than one request takes; run it again for the rest.'}
          </p>
        </Confirm>
      )}
    </div>
  );
}
