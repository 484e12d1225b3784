import { describe, expect, it } from 'vitest';
import { Autoscaler, restartDelayMs } from '../src/autoscale/autoscaler.js';
import { FakeLauncher, ScriptedSource, configOf, decision, settle } from './autoscale-fakes.js';

const URL_ = 'http://127.0.0.1:7070';
const CONFIG = configOf({
  pools: {
    burst: { queues: ['burst'], max: 4, slotsPerAgent: 2, cooldownSeconds: 20, agentArgs: ['--demo'] },
    gpu: { queues: ['train', 'eval'], min: 1, max: 2, gpusPerAgent: 8 },
  },
});

/** An autoscaler over a scripted source and fake agents, its log kept, its clock the test's. */
function setup() {
  const source = new ScriptedSource();
  const launcher = new FakeLauncher();
  const log: string[] = [];
  const clock = { now: 1_000_000 };
  const autoscaler = new Autoscaler({
    config: CONFIG,
    source,
    launcher,
    serverUrl: URL_,
    log: (line) => log.push(line),
    now: () => clock.now,
  });
  return { source, launcher, log, clock, autoscaler };
}

describe('autoscaler reconcile (fake source, fake agents)', () => {
  it('scales up from zero: starts the difference, named per pool, with the pool’s agent flags', async () => {
    const { source, launcher, log, autoscaler } = setup();
    source.set(decision('burst', 3, { reason: 'scale from zero: 5 pending job(s)' }));
    await autoscaler.reconcile();
    expect(launcher.running().map((a) => a.name)).toEqual([
      'autoscale-burst-1',
      'autoscale-burst-2',
      'autoscale-burst-3',
    ]);
    expect(launcher.launched[0]?.request.args).toEqual([
      'agent',
      '--server',
      URL_,
      '--pool',
      'burst',
      '--queues',
      'burst',
      '--slots',
      '2',
      '--name',
      'autoscale-burst-1',
      '--demo',
    ]);
    expect(log).toContain('autoscale: pool burst 0 → 3 agents (reason: scale from zero: 5 pending job(s))');
    expect(autoscaler.agents('burst').map((a) => a.state)).toEqual(['starting', 'starting', 'starting']);
  });

  it('a GPU pool’s agents declare its GPUs and every queue; its min holds even if the decision says less', async () => {
    const { source, launcher, autoscaler } = setup();
    source.set(decision('gpu', 0, { min: 1, max: 2 }));
    await autoscaler.reconcile();
    expect(launcher.running('gpu')).toHaveLength(1);
    const args = launcher.launched[0]?.request.args ?? [];
    expect(args.join(' ')).toContain('--pool gpu --queues train,eval --gpus 8 --name autoscale-gpu-1');
    expect(args).not.toContain('--slots');
  });

  it('children still starting count as there: a second tick starts none', async () => {
    const { source, launcher, autoscaler } = setup();
    source.set(decision('burst', 2));
    await autoscaler.reconcile();
    await autoscaler.reconcile();
    await autoscaler.reconcile();
    expect(launcher.launched).toHaveLength(2);
    // One connects: the server now counts it in `current`; still two in all.
    launcher.byName('autoscale-burst-1').connect();
    source.set(decision('burst', 2, { current: 1 }));
    await autoscaler.reconcile();
    expect(launcher.launched).toHaveLength(2);
    expect(autoscaler.agents().map((a) => a.state)).toEqual(['connected', 'starting']);
  });

  it('never exceeds the pool’s max, nor the decision’s', async () => {
    const { source, launcher, autoscaler } = setup();
    source.set(decision('burst', 10, { max: 10 }));
    await autoscaler.reconcile();
    expect(launcher.running('burst')).toHaveLength(4);
    source.set(decision('burst', 10, { max: 10 }));
    await autoscaler.reconcile();
    expect(launcher.launched).toHaveLength(4);

    const other = setup();
    other.source.set(decision('burst', 3, { max: 2 }));
    await other.autoscaler.reconcile();
    expect(other.launcher.running()).toHaveLength(2);
  });

  it('scale-in drains only the agents the decision names (idle ones), in its order; a busy one keeps running', async () => {
    const { source, launcher, log, autoscaler } = setup();
    source.set(decision('burst', 3));
    await autoscaler.reconcile();
    for (const a of launcher.running()) a.connect();
    const [one, two, three] = launcher.launched;
    // Down to 1, but only agent 3 is idle: 3 drains, 1 and 2 (busy) keep running.
    source.set(decision('burst', 1, { current: 3, drain: ['id-autoscale-burst-3'], reason: 'load 2 of 6' }));
    await autoscaler.reconcile();
    await settle();
    expect(three?.terminated).toBe(1);
    expect(one?.terminated).toBe(0);
    expect(two?.terminated).toBe(0);
    expect(log).toContain('autoscale: pool burst 3 → 1 agents (reason: load 2 of 6): draining autoscale-burst-3');
    expect(log).toContain('autoscale: autoscale-burst-3 exited (code 0)');
    expect(log.filter((l) => l.includes('busy or starting'))).toHaveLength(1);
    // Next tick: still one too many, nothing idle: nothing stopped, the note not repeated.
    source.set(decision('burst', 1, { current: 2, drain: [] }));
    await autoscaler.reconcile();
    expect(one?.terminated).toBe(0);
    expect(two?.terminated).toBe(0);
    expect(log.filter((l) => l.includes('busy or starting'))).toHaveLength(1);
    // Agent 1 goes idle: the decision names it (and an agent not ours, which is ignored).
    source.set(decision('burst', 1, { current: 2, drain: ['someone-else', 'id-autoscale-burst-1'] }));
    await autoscaler.reconcile();
    await settle();
    expect(one?.terminated).toBe(1);
    expect(two?.terminated).toBe(0);
    expect(autoscaler.agents().map((a) => a.name)).toEqual(['autoscale-burst-2']);
  });

  it('never drains more than the excess, nor an agent still starting', async () => {
    const { source, launcher, autoscaler } = setup();
    source.set(decision('burst', 3));
    await autoscaler.reconcile();
    launcher.byName('autoscale-burst-1').connect();
    launcher.byName('autoscale-burst-2').connect();
    source.set(
      decision('burst', 2, {
        current: 2,
        drain: ['id-autoscale-burst-1', 'id-autoscale-burst-2', 'autoscale-burst-3'],
      }),
    );
    await autoscaler.reconcile();
    expect(launcher.launched.map((a) => a.terminated)).toEqual([1, 0, 0]);
  });

  it('draining agents are not counted: scaling up again while one drains starts a new one', async () => {
    const { source, launcher, autoscaler } = setup();
    source.set(decision('burst', 1));
    await autoscaler.reconcile();
    const first = launcher.byName('autoscale-burst-1');
    first.connect();
    first.exitOnTerminate = false; // finishing a last job
    source.set(decision('burst', 0, { current: 1, drain: ['id-autoscale-burst-1'] }));
    await autoscaler.reconcile();
    expect(first.terminated).toBe(1);
    source.set(decision('burst', 1, { current: 0 }));
    await autoscaler.reconcile();
    expect(launcher.running().map((a) => a.name)).toEqual(['autoscale-burst-1', 'autoscale-burst-2']);
    expect(autoscaler.agents().map((a) => a.state)).toEqual(['stopping', 'starting']);
  });

  it('an agent that exits on its own is logged and replaced by the next decision, under its name', async () => {
    const { source, launcher, log, autoscaler } = setup();
    source.set(decision('burst', 2));
    await autoscaler.reconcile();
    for (const a of launcher.running()) a.connect();
    launcher.byName('autoscale-burst-1').exit(1);
    await settle();
    expect(log).toContain('autoscale: autoscale-burst-1 exited unexpectedly (code 1); the next decision replaces it');
    expect(autoscaler.agents().map((a) => a.name)).toEqual(['autoscale-burst-2']);
    source.set(decision('burst', 2, { current: 1 }));
    await autoscaler.reconcile();
    expect(launcher.launched).toHaveLength(3);
    expect(launcher.running().map((a) => a.name)).toEqual(['autoscale-burst-2', 'autoscale-burst-1']);
  });

  it('agents that die before connecting, again and again, are restarted after a growing pause', async () => {
    const { source, launcher, log, clock, autoscaler } = setup();
    source.set(decision('burst', 1));
    await autoscaler.reconcile();
    launcher.byName('autoscale-burst-1').exit(2);
    await settle();
    await autoscaler.reconcile(); // the first crash is replaced at once
    expect(launcher.launched).toHaveLength(2);
    launcher.byName('autoscale-burst-1').exit(2);
    await settle();
    await autoscaler.reconcile(); // the second in a row: a pause first
    expect(launcher.launched).toHaveLength(2);
    expect(log).toContain('autoscale: pool burst: 2 agents exited in a row; pausing 1 s');
    clock.now += restartDelayMs(2);
    await autoscaler.reconcile();
    expect(launcher.launched).toHaveLength(3);
    // One that connects ends the streak.
    launcher.byName('autoscale-burst-1').connect();
    launcher.byName('autoscale-burst-1').exit(1);
    await settle();
    await autoscaler.reconcile();
    expect(launcher.launched).toHaveLength(4);
    expect([1, 2, 3, 4, 10, 100].map(restartDelayMs)).toEqual([0, 1000, 2000, 4000, 30_000, 30_000]);
  });

  it('agents of the pool started elsewhere count toward desired, up and down', async () => {
    const { source, launcher, autoscaler } = setup();
    source.set(decision('burst', 3, { current: 2 }));
    await autoscaler.reconcile();
    expect(launcher.running()).toHaveLength(1);
    launcher.byName('autoscale-burst-1').connect();
    // Two others and ours; desired 2: ours goes once idle.
    source.set(decision('burst', 2, { current: 3, drain: ['id-autoscale-burst-1'] }));
    await autoscaler.reconcile();
    await settle();
    expect(launcher.running()).toEqual([]);
  });

  it('the server counting an agent before its connected line is read neither drains nor over-starts', async () => {
    const { source, launcher, autoscaler } = setup();
    source.set(decision('burst', 3));
    await autoscaler.reconcile();
    launcher.byName('autoscale-burst-1').connect();
    launcher.byName('autoscale-burst-2').connect();
    // All three registered; this process has read two "connected" lines so far.
    source.set(decision('burst', 3, { current: 3, drain: ['id-autoscale-burst-1', 'id-autoscale-burst-2'] }));
    await autoscaler.reconcile();
    expect(launcher.launched.map((a) => a.terminated)).toEqual([0, 0, 0]);
    expect(launcher.launched).toHaveLength(3);
    // One of ours exited and the server has not noticed yet: not started twice, nothing drained.
    launcher.byName('autoscale-burst-3').connect();
    launcher.byName('autoscale-burst-3').exit(1);
    await settle();
    source.set(decision('burst', 3, { current: 3, drain: ['id-autoscale-burst-1'] }));
    await autoscaler.reconcile();
    expect(launcher.launched).toHaveLength(3);
    expect(launcher.launched.map((a) => a.terminated)).toEqual([0, 0, 0]);
    // Once it has: replaced.
    source.set(decision('burst', 3, { current: 2 }));
    await autoscaler.reconcile();
    expect(launcher.running().map((a) => a.name)).toEqual([
      'autoscale-burst-1',
      'autoscale-burst-2',
      'autoscale-burst-3',
    ]);
  });

  it('a source that fails leaves the agents as they are, said once; a pool not in the config is not started', async () => {
    const { source, launcher, log, autoscaler } = setup();
    source.set(decision('burst', 1), decision('elsewhere', 2));
    await autoscaler.reconcile();
    await autoscaler.reconcile();
    expect(launcher.running().map((a) => a.request.pool)).toEqual(['burst']);
    expect(log.filter((l) => l.includes('pool elsewhere is not in the config'))).toHaveLength(1);
    source.failure = new Error('GET /api/scaling answered 503');
    source.set(decision('burst', 0));
    await autoscaler.reconcile();
    await autoscaler.reconcile();
    expect(launcher.running()).toHaveLength(1);
    expect(launcher.launched[0]?.terminated).toBe(0);
    expect(log.filter((l) => l.includes('cannot read the scaling decisions'))).toEqual([
      'autoscale: cannot read the scaling decisions: GET /api/scaling answered 503; agents stay as they are',
    ]);
    source.failure = null;
    await autoscaler.reconcile();
    expect(log).toContain('autoscale: reading the scaling decisions again');
  });

  it('shutdown drains every agent, starting ones too, kills those past the grace, and starts no more', async () => {
    const { source, launcher, log, autoscaler } = setup();
    source.set(decision('burst', 3), decision('gpu', 1));
    await autoscaler.reconcile();
    launcher.byName('autoscale-burst-1').connect();
    const stubborn = launcher.byName('autoscale-burst-2');
    stubborn.exitOnTerminate = false;
    await autoscaler.stop(200);
    expect(launcher.launched.every((a) => a.terminated === 1)).toBe(true);
    expect(stubborn.killed).toBe(1);
    expect(launcher.running()).toEqual([]);
    expect(autoscaler.agents()).toEqual([]);
    expect(log).toContain('autoscale: stopping 4 agent(s)…');
    expect(log).toContain('autoscale: autoscale-burst-2 still running after 200 ms; killing');
    expect(log.some((l) => l.includes('unexpectedly'))).toBe(false);
    await autoscaler.reconcile();
    expect(launcher.launched).toHaveLength(4);
  });

  it('start() reconciles until stop(), and stop waits for a tick under way', async () => {
    const { source, launcher, autoscaler } = setup();
    source.set(decision('burst', 1));
    autoscaler.start(10);
    await until(() => source.reads >= 3);
    expect(launcher.launched).toHaveLength(1);
    await autoscaler.stop(1000);
    const reads = source.reads;
    await new Promise((r) => setTimeout(r, 50));
    expect(source.reads).toBe(reads);
    expect(launcher.running()).toEqual([]);
  });
});

async function until(probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
