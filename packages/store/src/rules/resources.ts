import type { Resources } from '@baton/core';
import { DEFAULT_RESOURCES } from '@baton/core';

/** Stored resources with every field present (rows from before resources had cpu, memory, GPUs). */
export function withDefaultResources(r: Partial<Resources>): Resources {
  return {
    slots: r.slots ?? DEFAULT_RESOURCES.slots,
    cpu: r.cpu ?? DEFAULT_RESOURCES.cpu,
    memoryMb: r.memoryMb ?? DEFAULT_RESOURCES.memoryMb,
    gpus: r.gpus ?? DEFAULT_RESOURCES.gpus,
  };
}
