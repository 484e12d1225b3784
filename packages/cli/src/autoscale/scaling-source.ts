import type { BatonClient, PoolScalingView } from '@baton/client';

/**
 * One pool's scaling decision, as `GET /api/scaling` returns it: how many agents the pool should
 * have and, for scale-in, which agents to stop (`drain`: idle ones only, never a busy one).
 */
export type PoolDecision = PoolScalingView;

/** Where the autoscaler reads the decisions from. */
export interface ScalingSource {
  decisions(): Promise<PoolDecision[]>;
}

/**
 * The server's decisions through the SDK (`GET /api/scaling`). The client must act as an admin:
 * only admins are told which agents to drain, so with another token nothing is ever stopped.
 */
export class ApiScalingSource implements ScalingSource {
  constructor(private readonly client: BatonClient) {}

  async decisions(): Promise<PoolDecision[]> {
    return (await this.client.scaling()).pools;
  }
}
