import { execFile } from 'node:child_process';
import type { GpuDevice } from '@baton/core';

/** GPU detection through `nvidia-smi`, and placeholder devices for `--gpus N`. */

const QUERY_FIELDS = ['index', 'uuid', 'name', 'memory.total', 'utilization.gpu', 'temperature.gpu'] as const;
export const NVIDIA_SMI_ARGS: readonly string[] = [
  `--query-gpu=${QUERY_FIELDS.join(',')}`,
  '--format=csv,noheader,nounits',
];
const DEFAULT_TIMEOUT_MS = 10_000;

export interface DetectGpusOptions {
  /** The nvidia-smi to run: a path, or a name looked up on PATH. Default `nvidia-smi`. */
  nvidiaSmi?: string;
  /** Default 10 000. */
  timeoutMs?: number;
}

/** A GPU as nvidia-smi lists it, with what makes it unhealthy (`problem`) when it is not. */
export interface ListedGpu extends GpuDevice {
  problem?: string;
}

export interface NvidiaSmiListing {
  gpus: ListedGpu[];
  /** Lines about GPUs nvidia-smi could not reach (`Unable to determine the device handle for GPU …`). */
  unreachable: string[];
}

/**
 * Lists the machine's GPUs with nvidia-smi (no shell). Returns null when nvidia-smi is not
 * installed; throws when it runs but fails, times out or prints something unexpected. A GPU
 * whose fields read `[GPU is lost]`, `[Unknown Error]`, `ERR!`… is listed with `healthy: false`;
 * one nvidia-smi cannot reach at all is left out.
 */
export async function detectGpus(options: DetectGpusOptions = {}): Promise<GpuDevice[] | null> {
  const listing = await listNvidiaSmi(options);
  return (
    listing &&
    listing.gpus.map(({ index, uuid, name, memoryMb, healthy }) => ({ index, uuid, name, memoryMb, healthy }))
  );
}

/** detectGpus with the details the health monitor needs. */
export function listNvidiaSmi(options: DetectGpusOptions = {}): Promise<NvidiaSmiListing | null> {
  const bin = options.nvidiaSmi ?? 'nvidia-smi';
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      NVIDIA_SMI_ARGS,
      { timeout, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 4 << 20, windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) {
          try {
            resolve(parseNvidiaSmi(stdout));
          } catch (parseErr) {
            reject(parseErr);
          }
          return;
        }
        const code = (err as { code?: unknown }).code;
        if (code === 'ENOENT') return resolve(null);
        if (err.killed && code == null) return reject(new Error(`${bin} did not answer within ${timeout} ms`));
        if (typeof code === 'string') return reject(new Error(`could not run ${bin}: ${err.message}`));
        // nvidia-smi fails (exit 6 / 15…) when it cannot reach some GPU, yet lists the others.
        const listing = tryParse(stdout);
        if (listing && (listing.gpus.length > 0 || /^No devices were found/im.test(stdout))) return resolve(listing);
        const how = code != null ? `exited with code ${code}` : `was killed by ${err.signal}`;
        const said = firstLine(stderr) || firstLine(stdout);
        reject(new Error(`${bin} ${how}${said ? `: ${said}` : ''}`));
      },
    );
  });
}

/** Parses `--format=csv,noheader,nounits` output of the fields in NVIDIA_SMI_ARGS. */
export function parseNvidiaSmi(output: string): NvidiaSmiListing {
  const gpus: ListedGpu[] = [];
  const unreachable: string[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || /^No devices were found/i.test(line)) continue;
    const parts = line.split(',').map((part) => part.trim());
    const gpu = parts.length >= QUERY_FIELDS.length ? parseGpu(parts) : null;
    if (gpu) gpus.push(gpu);
    else if (/unable to determine the device handle|gpu is lost|unknown error/i.test(line)) unreachable.push(line);
    else throw new Error(`unexpected nvidia-smi output: "${line.slice(0, 200)}"`);
  }
  return { gpus, unreachable };
}

function parseGpu(parts: string[]): ListedGpu | null {
  const indexText = parts[0]!;
  if (!/^\d+$/.test(indexText)) return null;
  // A name holding a comma spreads over several parts: the last three are the numbers.
  const uuid = parts[1]!;
  const name = parts.slice(2, -3).join(', ');
  const [memory, utilization, temperature] = parts.slice(-3) as [string, string, string];
  const values: [string, string][] = [
    ['uuid', uuid],
    ['name', name],
    ['memory.total', memory],
    ['utilization.gpu', utilization],
    ['temperature.gpu', temperature],
  ];
  const bad = values.find(([, value]) => isErrorValue(value));
  const gpu: ListedGpu = {
    index: Number(indexText),
    uuid,
    name,
    memoryMb: /^\d+(\.\d+)?$/.test(memory) ? Math.round(Number(memory)) : 0,
    healthy: !bad,
  };
  if (bad) gpu.problem = `nvidia-smi ${bad[0]}: ${bad[1]}`;
  return gpu;
}

/** `ERR!`, `[GPU is lost]`, `[Unknown Error]`, `[GPU requires reset]`…; not `[N/A]` or `[Not Supported]`. */
function isErrorValue(value: string): boolean {
  if (/ERR!/.test(value)) return true;
  return /^\[.*\]$/.test(value) && /lost|error|reset|fail|unknown/i.test(value);
}

function tryParse(output: string): NvidiaSmiListing | null {
  try {
    return parseNvidiaSmi(output);
  } catch {
    return null;
  }
}

function firstLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .find((line) => line.trim() !== '')
      ?.trim()
      .slice(0, 300) ?? ''
  );
}

/** Placeholder devices for `--gpus N` on a machine without nvidia-smi. */
export function declaredGpus(count: number): GpuDevice[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`the GPU count must be a whole number of at least 0, got ${count}`);
  }
  return Array.from({ length: count }, (_, index) => ({
    index,
    uuid: `declared-${index}`,
    name: 'declared',
    memoryMb: 0,
    healthy: true,
  }));
}
