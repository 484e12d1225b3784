import { z } from 'zod';

/**
 * One pool's scaling decision, as `GET /api/scaling` returns it: how many agents the pool should
 * have and, for scale-in, which agents to stop.
 */
export interface PoolDecision {
  pool: string;
  unit: 'slots' | 'gpus';
  /** Agents of the pool connected and not draining (whoever started them). */
  current: number;
  desired: number;
  min: number;
  max: number;
  reason: string;
  /** When the desired count last changed (epoch ms), or null. */
  lastScaleAt: number | null;
  load: number;
  pendingJobs: number;
  /** Agent ids the decision picks for scale-in: idle agents first, never a busy one. */
  drain: string[];
}

/** Where the autoscaler reads the decisions from. */
export interface ScalingSource {
  decisions(): Promise<PoolDecision[]>;
}

const decisionSchema = z.object({
  pool: z.string(),
  unit: z.enum(['slots', 'gpus']),
  current: z.number(),
  desired: z.number().int().min(0),
  min: z.number(),
  max: z.number(),
  reason: z.string(),
  lastScaleAt: z.number().nullable(),
  load: z.number(),
  pendingJobs: z.number(),
  // Admins only: a decision without it stops nothing.
  drain: z.array(z.string()).default([]),
});
const responseSchema = z.object({ syncSeconds: z.number(), pools: z.array(decisionSchema) });

/**
 * `GET /api/scaling` with the admin token, over fetch.
 * TODO(lead): once the SDK has `BatonClient.scaling()`, swap this for a source over it.
 */
export class HttpScalingSource implements ScalingSource {
  readonly #token: string;

  constructor(
    private readonly serverUrl: string,
    adminToken: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.#token = adminToken;
  }

  async decisions(): Promise<PoolDecision[]> {
    const url = `${this.serverUrl.replace(/\/+$/, '')}/api/scaling`;
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${this.#token}` },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (response.status === 404)
      throw new Error('the server has no GET /api/scaling (is it started with a baton.yaml?)');
    if (!response.ok) throw new Error(`GET /api/scaling answered ${response.status}`);
    const parsed = responseSchema.safeParse(await response.json());
    if (!parsed.success) {
      throw new Error(`GET /api/scaling: unexpected answer (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    }
    return parsed.data.pools;
  }
}
