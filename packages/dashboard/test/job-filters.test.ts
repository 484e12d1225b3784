import { describe, expect, it } from 'vitest';
import { apiFilter, filtersFrom } from '../src/pages/job-filters.js';

describe("the Jobs page's filters", () => {
  it('reads the URL and gives the API only what is set, a time window as since', () => {
    const f = filtersFrom(new URLSearchParams('state=failed&queue=etl&range=1h&junk=1'));
    expect(f).toEqual({ state: 'failed', queue: 'etl', task: '', owner: '', range: '1h' });
    expect(apiFilter(f, 10_000_000)).toEqual({ state: 'failed', queue: 'etl', since: 10_000_000 - 3_600_000 });
  });

  it('ignores a time window it does not know', () => {
    const f = filtersFrom(new URLSearchParams('range=5y&owner=ada&task=train'));
    expect(f.range).toBe('');
    expect(apiFilter(f)).toEqual({ owner: 'ada', task: 'train' });
  });
});
