import type {
  AttentionView,
  BulkActionRequest,
  BulkResult,
  JobCounts,
  OverviewHistoryView,
  RetriedJob,
} from './job-action-types.js';
import type { Transport } from './transport.js';

/** The dashboard's calls on jobs (counts, retry, bulk actions) and the overview, behind `BatonClient`. */
export class JobActionCalls {
  constructor(private readonly http: Transport) {}

  counts(filter: { queue?: string; owner?: string } = {}): Promise<JobCounts> {
    const params = new URLSearchParams();
    if (filter.queue !== undefined) params.set('queue', filter.queue);
    if (filter.owner !== undefined) params.set('owner', filter.owner);
    const qs = params.toString();
    return this.http.request('GET', `/api/jobs/counts${qs ? `?${qs}` : ''}`);
  }

  /** Not retried by the transport on its own: a second try would submit a second job. */
  retry(id: string): Promise<RetriedJob> {
    return this.http.request('POST', `/api/jobs/${encodeURIComponent(id)}/retry`);
  }

  bulk(action: 'cancel' | 'retry', request: BulkActionRequest): Promise<BulkResult> {
    return this.http.request('POST', `/api/jobs/bulk-${action}`, request);
  }

  overviewHistory(): Promise<OverviewHistoryView> {
    return this.http.request('GET', '/api/overview/history');
  }

  attention(): Promise<AttentionView> {
    return this.http.request('GET', '/api/attention');
  }
}
