import { z } from 'zod';
import { queueNameSchema, taskNameSchema } from './schemas.js';

/**
 * `baton.yaml`: the agent pools an operator runs, how each scales, and how it is deployed. One
 * file feeds the scaling decisions (`GET /api/scaling`), the local autoscaler
 * (`baton dev --autoscale`) and the rendered manifests (`baton deploy render`), so what is
 * tested locally is what ships. Objects are strict: a misspelt field is an error, never a
 * silently ignored setting.
 */

/** A pool's name becomes part of Kubernetes object names: a DNS label, short enough to prefix. */
const POOL_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const MAX_POOL_NAME = 40;
export const MAX_POOLS = 64;
export const MAX_AGENTS_PER_POOL = 10_000;
/**
 * `baton agent` flags a pool's `agentArgs` may not give: the local autoscaler and the rendered
 * manifests set them from the pool (its name, queues, size) and the environment (the token,
 * which a file of arguments would otherwise hold in clear).
 */
export const POOL_SET_AGENT_FLAGS = [
  '--server',
  '--pool',
  '--queues',
  '--slots',
  '--gpus',
  '--name',
  '--token',
  '--token-file',
];

/** A scaling policy as the Kubernetes HPA has them: change at most `value` pods or percent per period. */
export const scalingPolicySchema = z.strictObject({
  type: z.enum(['Pods', 'Percent']),
  value: z.int().min(1, 'value must be at least 1').max(10_000),
  periodSeconds: z.int().min(1, 'periodSeconds must be at least 1').max(1800, 'periodSeconds is at most 1800'),
});
export type ScalingPolicy = z.infer<typeof scalingPolicySchema>;

/** One direction of an HPA `behavior`: its stabilization window and its policies. */
const scalingRulesSchema = z.strictObject({
  stabilizationWindowSeconds: z.int().min(0).max(3600, 'stabilizationWindowSeconds is at most 3600').optional(),
  selectPolicy: z.enum(['Max', 'Min', 'Disabled']).optional(),
  policies: z.array(scalingPolicySchema).min(1, 'policies must not be empty').max(10).optional(),
});
export type ScalingRulesInput = z.infer<typeof scalingRulesSchema>;

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
}

/** The Kubernetes HPA's defaults (autoscaling/v2), so a pool behaves as its HPA would. */
export const HPA_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Percent', value: 100, periodSeconds: 15 },
    { type: 'Pods', value: 4, periodSeconds: 15 },
  ],
};
export const HPA_SCALE_DOWN: ScalingRules = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
};
/** The HPA's tolerance: a load within 10 % of the target changes nothing. */
export const HPA_TOLERANCE = 0.1;
export const DEFAULT_TARGET_UTILIZATION = 0.8;
export const DEFAULT_COOLDOWN_SECONDS = 300;
export const DEFAULT_SCALING_SYNC_SECONDS = 15;

const keyValue = z.record(z.string().min(1).max(253), z.string().max(253));

const poolSchema = z
  .strictObject({
    queues: z.array(queueNameSchema).min(1, 'queues must name at least one queue').max(100),
    /**
     * Tasks the pool's agents serve, accepted on its queues even while it has no agent (a pool
     * at zero must take the job that wakes it). Routes agents registered on its queues are kept
     * too; these are for a pool that has never had an agent yet.
     */
    tasks: z.array(taskNameSchema).max(1000).default([]),
    min: z.int().min(0, 'min must be 0 or more').max(MAX_AGENTS_PER_POOL).default(0),
    max: z.int().min(1, 'max must be at least 1').max(MAX_AGENTS_PER_POOL, `max is at most ${MAX_AGENTS_PER_POOL}`),
    slotsPerAgent: z.int().min(1, 'slotsPerAgent must be at least 1').max(10_000).optional(),
    gpusPerAgent: z.int().min(1, 'gpusPerAgent must be at least 1').max(64).optional(),
    targetUtilization: z
      .number()
      .gt(0, 'targetUtilization must be above 0')
      .max(1, 'targetUtilization is at most 1')
      .default(DEFAULT_TARGET_UTILIZATION),
    cooldownSeconds: z.int().min(0).max(86_400, 'cooldownSeconds is at most 86400').default(DEFAULT_COOLDOWN_SECONDS),
    agentArgs: z.array(z.string().max(1000)).max(100).default([]),
    scaleUp: scalingRulesSchema.optional(),
    scaleDown: scalingRulesSchema.optional(),
    /** Deployment only: CPU cores and memory each agent pod requests. */
    cpu: z.number().positive().max(1024).optional(),
    memoryMb: z.int().min(1).max(16_777_216).optional(),
    /** Deployment only: where the pool's pods may run (GPU pools get NVIDIA's defaults). */
    nodeSelector: keyValue.optional(),
    tolerations: z
      .array(
        z.strictObject({
          key: z.string().min(1).max(253),
          operator: z.enum(['Equal', 'Exists']).default('Exists'),
          value: z.string().max(253).optional(),
          effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
        }),
      )
      .max(20)
      .optional(),
    /** Deployment only: how long a new agent may take to come up (image pull, driver, model load). */
    startupSeconds: z.int().min(1).max(3600).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.min > p.max)
      ctx.addIssue({ code: 'custom', path: ['min'], message: `min (${p.min}) is above max (${p.max})` });
    p.agentArgs.forEach((arg, i) => {
      const flag = POOL_SET_AGENT_FLAGS.find((f) => arg === f || arg.startsWith(`${f}=`));
      if (flag !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['agentArgs', i],
          message: `${flag} is set from the pool (its name, queues, slotsPerAgent, gpusPerAgent) and the environment (the agent token); remove it`,
        });
    });
    if (p.slotsPerAgent === undefined && p.gpusPerAgent === undefined)
      ctx.addIssue({ code: 'custom', path: [], message: 'a pool needs slotsPerAgent or gpusPerAgent' });
  });

const deploySchema = z.strictObject({
  image: z.string().min(1).max(500).default('baton:latest'),
  namespace: z
    .string()
    .regex(POOL_NAME, 'namespace must be a DNS label (lowercase letters, digits and -)')
    .max(63)
    .default('baton'),
  servers: z.int().min(1).max(100).default(2),
  /** The Secret holding `BATON_STORE`, `BATON_ADMIN_TOKEN` and `BATON_AGENT_TOKEN`: referenced, never inlined. */
  secretName: z.string().regex(POOL_NAME, 'secretName must be a DNS label').max(63).default('baton-secrets'),
  autoscaler: z.enum(['hpa', 'keda']).default('keda'),
});

export const batonConfigSchema = z.strictObject({
  pools: z
    .record(
      z
        .string()
        .max(MAX_POOL_NAME, `a pool name is at most ${MAX_POOL_NAME} characters`)
        .regex(POOL_NAME, 'a pool name may hold only lowercase letters, digits and - (a DNS label)'),
      poolSchema,
    )
    .refine((pools) => Object.keys(pools).length <= MAX_POOLS, `at most ${MAX_POOLS} pools`),
  scaling: z
    .strictObject({
      syncSeconds: z.int().min(1).max(600).default(DEFAULT_SCALING_SYNC_SECONDS),
      tolerance: z.number().min(0).max(1).default(HPA_TOLERANCE),
    })
    .default({ syncSeconds: DEFAULT_SCALING_SYNC_SECONDS, tolerance: HPA_TOLERANCE }),
  deploy: deploySchema.default({
    image: 'baton:latest',
    namespace: 'baton',
    servers: 2,
    secretName: 'baton-secrets',
    autoscaler: 'keda',
  }),
});

export type BatonConfigInput = z.input<typeof batonConfigSchema>;
type ParsedConfig = z.output<typeof batonConfigSchema>;
type ParsedPool = ParsedConfig['pools'][string];

/** A pool with every default filled in. */
export interface PoolConfig extends Omit<ParsedPool, 'scaleUp' | 'scaleDown'> {
  name: string;
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

export interface BatonConfig {
  pools: PoolConfig[];
  scaling: ParsedConfig['scaling'];
  deploy: ParsedConfig['deploy'];
}

/** One thing wrong with a config, at the path of the field it names. */
export interface ConfigProblem {
  path: (string | number)[];
  message: string;
}

/**
 * The config with every default filled in, or the problems found (each at its field's path).
 * Pools keep the file's order: where two pools take the same queue, the first is preferred.
 */
export function parseBatonConfig(
  input: unknown,
): { ok: true; config: BatonConfig } | { ok: false; problems: ConfigProblem[] } {
  const parsed = batonConfigSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.flatMap((i): ConfigProblem[] => {
        const path = i.path.filter((p): p is string | number => typeof p !== 'symbol');
        // One problem per unknown field, at that field, so the line points at the typo.
        if (i.code === 'unrecognized_keys')
          return i.keys.map((k) => ({ path: [...path, k], message: 'unknown field' }));
        // A bad pool name: the key's own rule says what is wrong with it.
        if (i.code === 'invalid_key') return i.issues.map((k) => ({ path, message: k.message }));
        const field = path[path.length - 1];
        if (i.code === 'invalid_type' && i.message.endsWith('received undefined') && field !== undefined)
          return [{ path, message: `${field} is required` }];
        return [{ path, message: i.message }];
      }),
    };
  }
  const { pools, scaling, deploy } = parsed.data;
  return {
    ok: true,
    config: {
      pools: Object.entries(pools).map(([name, p]) => ({
        ...p,
        name,
        scaleUp: withRules(HPA_SCALE_UP, p.scaleUp),
        scaleDown: withRules(HPA_SCALE_DOWN, p.scaleDown),
      })),
      scaling,
      deploy,
    },
  };
}

function withRules(defaults: ScalingRules, given: ScalingRulesInput | undefined): ScalingRules {
  return {
    stabilizationWindowSeconds: given?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: given?.selectPolicy ?? defaults.selectPolicy,
    policies: given?.policies ?? defaults.policies,
  };
}

/** What one agent of the pool offers, in the unit the pool scales by (GPUs for a GPU pool). */
export function unitsPerAgent(pool: Pick<PoolConfig, 'gpusPerAgent' | 'slotsPerAgent'>): number {
  return pool.gpusPerAgent ?? pool.slotsPerAgent ?? 1;
}
