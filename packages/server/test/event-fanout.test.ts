import { describe, expect, it } from 'vitest';
import type { Store, StoreEvent } from '@baton/store';
import type { OutgoingEvent } from '../src/http/event-fanout.js';
import { EventFanout } from '../src/http/event-fanout.js';

/** A store that only announces what the test emits. */
function fakeStore() {
  const listeners = new Set<(e: StoreEvent) => void>();
  const store = {
    subscribe(listener: (e: StoreEvent) => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  } as unknown as Store;
  return { store, emit: (e: StoreEvent) => listeners.forEach((l) => l(e)), listeners };
}

const nextTurn = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the event fan-out', () => {
  it('sends the first event after a quiet spell on the next turn, outside the store call', async () => {
    const { store, emit } = fakeStore();
    const fanout = new EventFanout(store, 50);
    const got: OutgoingEvent[][] = [];
    fanout.add((batch) => got.push([...batch]));
    emit({ type: 'logs', jobId: 'a' });
    expect(got).toEqual([]); // not inside the emitting call
    await nextTurn();
    expect(got).toEqual([[{ event: { type: 'logs', jobId: 'a' }, json: '{"type":"logs","jobId":"a"}' }]]);
  });

  it('merges what comes within the window: queues united, earliest dueAt, each job and server once', async () => {
    const { store, emit } = fakeStore();
    const fanout = new EventFanout(store, 40);
    const got: StoreEvent[][] = [];
    fanout.add((batch) => got.push(batch.map((b) => b.event)));
    emit({ type: 'changed' });
    await nextTurn();
    // Within the window now: these gather.
    emit({ type: 'enqueued', queues: ['a'] });
    emit({ type: 'enqueued', queues: ['b', 'a'], dueAt: 900 });
    emit({ type: 'enqueued', queues: ['c'], dueAt: 500 });
    emit({ type: 'changed' });
    emit({ type: 'changed', dueAt: 700 });
    emit({ type: 'logs', jobId: 'j1' });
    emit({ type: 'logs', jobId: 'j1' });
    emit({ type: 'logs', jobId: 'j2' });
    emit({ type: 'capacity', serverId: 's1' });
    emit({ type: 'capacity', serverId: 's1' });
    emit({ type: 'cancelled', jobId: 'j3', agentId: null });
    expect(got).toHaveLength(1);
    await sleep(80);
    expect(got).toHaveLength(2);
    expect(got[1]).toEqual([
      { type: 'enqueued', queues: ['a', 'b', 'c'], dueAt: 500 },
      { type: 'changed', dueAt: 700 },
      { type: 'logs', jobId: 'j1' },
      { type: 'logs', jobId: 'j2' },
      { type: 'capacity', serverId: 's1' },
      { type: 'cancelled', jobId: 'j3', agentId: null },
    ]);
  });

  it('makes each event into JSON once for every client, and drops internal events', async () => {
    const { store, emit } = fakeStore();
    const fanout = new EventFanout(store, 10);
    const batches: (readonly OutgoingEvent[])[] = [];
    fanout.add((b) => batches.push(b));
    fanout.add((b) => batches.push(b));
    emit({ type: 'changed' });
    emit({ type: 'routes' } as StoreEvent);
    await nextTurn();
    expect(batches).toHaveLength(2);
    expect(batches[0]).toBe(batches[1]);
    expect(batches[0]?.map((b) => b.event.type)).toEqual(['changed']);
  });

  it('holds one subscription while it has clients, none after the last leaves', async () => {
    const { store, emit, listeners } = fakeStore();
    const fanout = new EventFanout(store, 10);
    expect(listeners.size).toBe(0);
    const got: string[] = [];
    const removeA = fanout.add(() => got.push('a'));
    const removeB = fanout.add(() => got.push('b'));
    expect(listeners.size).toBe(1);
    removeA();
    emit({ type: 'changed' });
    await nextTurn();
    expect(got).toEqual(['b']);
    removeB();
    expect(listeners.size).toBe(0);
    expect(fanout.size).toBe(0);
  });
});
