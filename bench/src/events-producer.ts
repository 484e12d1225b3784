import { BatonClient } from '@baton/client';
import { sleep } from './waits.js';

/**
 * The events workload's producer, a process of its own (forked by events.ts): on `go`, submits
 * single no-op jobs (`demo.echo`, queue `default`) at `rate`/s for `seconds` — the flow — and,
 * beside it, marker jobs at `markerRate`/s, each to a queue of its own (`<prefix><n>`) that no
 * agent serves, so the `enqueued` event naming that queue tells a client when the marker was
 * announced. Times are `process.hrtime` (CLOCK_MONOTONIC, the same clock in every process on the
 * machine). Reports to the parent what was acknowledged and when.
 *
 * argv: url rate seconds markerRate markerPrefix maxInFlight; the token comes in BATON_TOKEN.
 */

export interface MarkerRecord {
  queue: string;
  /** When its POST was sent. */
  sentAt: number;
  /** When the POST's answer came (null: it failed). */
  returnedAt: number | null;
  /** The job's id, from the answer. */
  id: string | null;
}

export interface ProducerReport {
  type: 'report';
  /** Flow submissions made, acknowledged and failed. */
  flowIssued: number;
  flowAcked: number;
  flowErrors: number;
  firstError: string | null;
  /** When the first flow submission was sent and the last acknowledgement came. */
  startedAt: number;
  lastAckAt: number;
  /** Times a submission was due with `maxInFlight` already waiting (the rate could not be held). */
  inFlightCapHits: number;
  markers: MarkerRecord[];
}

export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export const FLOW_TASK = 'demo.echo';
export const MARKER_TASK = 'bench.marker';

async function produce(args: string[]): Promise<ProducerReport> {
  const [url, rateText, secondsText, markerRateText, markerPrefix, maxInFlightText] = args;
  const rate = Number(rateText);
  const seconds = Number(secondsText);
  const markerRate = Number(markerRateText);
  const maxInFlight = Number(maxInFlightText);
  // The SDK's retries are off: a failed submission is counted, not retried behind our back.
  const client = new BatonClient({ baseUrl: url, token: process.env.BATON_TOKEN, retry: false });
  const total = Math.round(rate * seconds);
  const markerTotal = Math.round(markerRate * seconds);
  const acks: Promise<unknown>[] = [];
  const markers: MarkerRecord[] = [];
  let flowAcked = 0;
  let flowErrors = 0;
  let inFlight = 0;
  let capHits = 0;
  let firstError: string | null = null;
  let lastAckAt = 0;
  const fail = (err: unknown) => {
    firstError ??= err instanceof Error ? err.message : String(err);
  };
  const t0 = nowMs() + 20;
  let issued = 0;
  let markersIssued = 0;
  while (issued < total || markersIssued < markerTotal) {
    const now = nowMs();
    const flowDue = issued < total ? t0 + (issued * 1000) / rate : Infinity;
    const markerDue = markersIssued < markerTotal ? t0 + (markersIssued * 1000) / markerRate : Infinity;
    const due = Math.min(flowDue, markerDue);
    if (due > now) {
      // Timers have ~1 ms granularity: each wake-up issues what became due.
      await sleep(Math.max(1, Math.floor(due - now)));
      continue;
    }
    if (markerDue <= flowDue) {
      const record: MarkerRecord = {
        queue: `${markerPrefix}${markersIssued++}`,
        sentAt: nowMs(),
        returnedAt: null,
        id: null,
      };
      markers.push(record);
      acks.push(
        client.submit(MARKER_TASK, {}, { queue: record.queue }).then(
          (submitted) => {
            record.returnedAt = nowMs();
            record.id = submitted.id;
          },
          (err: unknown) => fail(err),
        ),
      );
      continue;
    }
    if (inFlight >= maxInFlight) {
      capHits++;
      await sleep(1);
      continue;
    }
    issued++;
    inFlight++;
    acks.push(
      client
        .submit(FLOW_TASK, {})
        .then(
          () => {
            flowAcked++;
            lastAckAt = nowMs();
          },
          (err: unknown) => {
            flowErrors++;
            fail(err);
          },
        )
        .finally(() => inFlight--),
    );
  }
  await Promise.all(acks);
  return {
    type: 'report',
    flowIssued: issued,
    flowAcked,
    flowErrors,
    firstError,
    startedAt: t0,
    lastAckAt: lastAckAt || nowMs(),
    inFlightCapHits: capHits,
    markers,
  };
}

// Run only as the forked child, not when the parent imports the constants above.
if (process.send && process.argv[1]?.endsWith('events-producer.js')) {
  const args = process.argv.slice(2);
  process.on('message', (m: { type?: string }) => {
    if (m.type !== 'go') return;
    produce(args).then(
      (report) => process.send?.(report),
      (err: unknown) => process.send?.({ type: 'error', error: String(err) }),
    );
  });
  process.send({ type: 'ready' });
}
