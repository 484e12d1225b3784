export { runThroughput, THROUGHPUT_QUEUE, THROUGHPUT_TASK } from './throughput.js';
export type { ThroughputOptions, ThroughputResult } from './throughput.js';
export { percentile, median, round, sortedCopy } from './stats.js';
