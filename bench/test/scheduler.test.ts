import { describe, expect, it } from 'vitest';
import { place } from '@baton/core';
import {
  buildBacklog,
  buildFleet,
  buildSchedulerInput,
  checkPlacements,
  PlacementCheckError,
  runScheduler,
} from '../src/scheduler.js';

const AGENTS = 20;
const JOBS = 2_000;

describe('scheduler workload', () => {
  it('prints a well-formed line with fewer placements than jobs', () => {
    const { line } = runScheduler({ agents: AGENTS, jobs: JOBS, samples: 2 });
    expect(line).toMatchObject({ system: 'baton', workload: 'scheduler', agents: AGENTS, jobs: JOBS, ok: true });
    for (const key of [
      'placements',
      'gpu_placements',
      'free_slots',
      'free_gpus',
      'pass_ms',
      'placements_per_s',
      'us_per_job',
    ] as const) {
      expect(Number.isFinite(line[key]), key).toBe(true);
      expect(line[key], key).toBeGreaterThanOrEqual(0);
    }
    expect(line.placements).toBeGreaterThan(0);
    expect(line.placements).toBeLessThanOrEqual(JOBS);
    expect(line.gpu_placements).toBeLessThanOrEqual(line.placements);
    // The backlog is the hard case: it needs far more room than the fleet has free.
    expect(line.free_slots).toBeLessThan(JOBS);
    expect(line.placements).toBeLessThanOrEqual(line.free_slots);
    const parsed = JSON.parse(JSON.stringify(line)) as Record<string, unknown>;
    expect(parsed).toEqual(line);
  });

  it('builds a fleet with CPU and GPU agents, and a backlog with every kind of job', () => {
    const { agents } = buildFleet(200);
    const gpuAgents = agents.filter((a) => a.gpuCount > 0);
    expect(gpuAgents.length).toBeGreaterThan(40);
    expect(gpuAgents.length).toBeLessThan(120);
    expect(gpuAgents.every((a) => a.gpuCount === 8 && a.total.slots === 16)).toBe(true);
    const cpuAgents = agents.filter((a) => a.gpuCount === 0);
    expect(cpuAgents.every((a) => a.total.slots >= 8 && a.total.slots <= 64)).toBe(true);
    expect(agents.some((a) => a.tags.length > 0)).toBe(true);

    const jobs = buildBacklog(5_000);
    expect(new Set(jobs.map((j) => j.resources.gpus))).toEqual(new Set([0, 1, 2, 4, 8]));
    expect(new Set(jobs.map((j) => j.priority))).toEqual(new Set(['high', 'normal', 'low']));
    expect(new Set(jobs.map((j) => j.queue))).toEqual(new Set(['default', 'batch', 'ml']));
    expect(jobs.some((j) => j.constraints.tags.length > 0)).toBe(true);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(jobs.length);
  });

  it('over-allocates no agent', () => {
    const input = buildSchedulerInput(AGENTS, JOBS);
    const { placements } = place(input.jobs, input.agents);
    expect(() => checkPlacements(input.jobs, input.agents, placements)).not.toThrow();

    // The same, counted here independently of checkPlacements.
    const jobs = new Map(input.jobs.map((j) => [j.id, j]));
    const used = new Map<string, { slots: number; cpu: number; memoryMb: number; gpus: number[] }>();
    for (const p of placements) {
      const job = jobs.get(p.jobId)!;
      const u = used.get(p.agentId) ?? { slots: 0, cpu: 0, memoryMb: 0, gpus: [] };
      u.slots += job.resources.slots;
      u.cpu += job.resources.cpu;
      u.memoryMb += job.resources.memoryMb;
      u.gpus.push(...p.gpus);
      used.set(p.agentId, u);
    }
    for (const agent of input.agents) {
      const u = used.get(agent.id);
      if (!u) continue;
      expect(u.slots).toBeLessThanOrEqual(agent.freeSlots);
      expect(u.cpu).toBeLessThanOrEqual(agent.freeCpu);
      expect(u.memoryMb).toBeLessThanOrEqual(agent.freeMemoryMb);
      expect(new Set(u.gpus).size).toBe(u.gpus.length);
      for (const gpu of u.gpus) expect(agent.freeGpus).toContain(gpu);
    }
    expect(new Set(placements.map((p) => p.jobId)).size).toBe(placements.length);
  });

  it('catches an over-allocated agent', () => {
    const input = buildSchedulerInput(AGENTS, JOBS);
    const agent = input.agents.find((a) => a.gpuCount === 0 && a.queues.includes('default') && a.tags.length === 0)!;
    const cpuJobs = input.jobs.filter(
      (j) => j.queue === 'default' && j.resources.gpus === 0 && j.constraints.tags.length === 0,
    );
    const tooMany = cpuJobs.slice(0, agent.freeSlots + 1).map((j) => ({ jobId: j.id, agentId: agent.id, gpus: [] }));
    expect(() => checkPlacements(input.jobs, input.agents, tooMany)).toThrow(PlacementCheckError);
  });

  it('is deterministic for a seed', () => {
    const a = runScheduler({ agents: AGENTS, jobs: JOBS, seed: 7, samples: 1 });
    const b = runScheduler({ agents: AGENTS, jobs: JOBS, seed: 7, samples: 1 });
    expect(b.placements).toEqual(a.placements);
    expect(b.line.placements).toBe(a.line.placements);
    expect(buildSchedulerInput(AGENTS, JOBS, 7)).toEqual(buildSchedulerInput(AGENTS, JOBS, 7));
    const c = runScheduler({ agents: AGENTS, jobs: JOBS, seed: 8, samples: 1 });
    expect(c.placements).not.toEqual(a.placements);
  });
});
