/** The shapes of the API's answers that the pages read (docs/api.md). */

export interface JobError {
  code: string;
  message: string;
  retryable?: boolean;
}

export interface Job {
  id: string;
  queue: string;
  task: string;
  owner: string;
  state: string;
  priority: string;
  priorityLevel?: number;
  resources: { slots: number; cpu: number; memoryMb: number; gpus: number };
  payload?: unknown;
  attempts: number;
  maxAttempts: number;
  progress: number | null;
  result?: unknown;
  error: JobError | null;
  agentId: string | null;
  gpus?: number[];
  createdAt: string;
  runAt?: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt?: string;
  workflow?: { id: string; step: string; needs: string[] };
}

export interface Attempt {
  attempt: number;
  agentId: string | null;
  outcome: string | null;
  error: JobError | null;
  assignedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface JobDetailJson extends Job {
  history: Attempt[];
  pendingReason: { code: string; message: string } | null;
  expectedRuntimeMs: number | null;
  expectedRuntimeSource: 'limit' | 'history' | 'none';
}

export interface JobPage {
  jobs: Job[];
  nextCursor: string | null;
}

export interface QueueRow {
  name: string;
  counts: Record<string, number>;
  oldestQueuedAgeMs: number | null;
}

export interface HistorySample {
  at: number;
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled?: number;
  oldestQueuedAgeMs: number | null;
  finishedPerSec: number | null;
}

export interface Gpu {
  index: number;
  uuid?: string;
  name?: string;
  memoryMb?: number;
  healthy: boolean;
  reason?: string;
  jobId: string | null;
}

export interface Agent {
  id: string;
  name: string;
  pool: string;
  state: string;
  queues: string[];
  tasks: string[];
  tags: string[];
  slots: number;
  used: number;
  cpu: number | null;
  memoryMb: number | null;
  gpus: Gpu[];
  jobs: string[];
  serverId?: string;
  connectedAt: string | null;
  lastSeenAt: string | null;
  disconnectedAt: string | null;
}

export interface Capacity {
  status: string;
  result: {
    slots: { name: string; capacity: number; used: number; available: number; holders: number }[];
    totals: { capacity: number; used: number; available: number };
    gpus: { total: number; used: number; available: number; unhealthy: number };
  };
}

export interface Attention {
  deadLettered: number;
  unhealthyGpus: { agentId: string; agentName: string; index: number; reason?: string }[];
  strandedGpus: number;
  blocked: { reason: string; count: number; jobIds: string[] }[];
}

export interface ScalingPool {
  pool: string;
  unit: string;
  current: number;
  desired: number;
  min: number;
  max: number;
  reason: string;
  lastScaleAt: number | null;
  load: number;
  pendingJobs: number;
}

export interface UserJson {
  name: string;
  role: string;
  weight: number;
  createdAt: string;
}

export interface WorkflowStep {
  id: string;
  task: string;
  needs: string[];
  state: string;
  jobId: string | null;
}
