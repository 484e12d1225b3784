import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Ids on the hot path. Job ids are ULIDs (48-bit ms time + 80 random bits, Crockford base32),
 * so they sort by creation time: FIFO order and cursors come for free. Random bytes are drawn
 * from a pool, since one syscall per id showed up as a tenth of the CPU under load.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

function randomByte(): number {
  if (poolOffset >= POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  return pool[poolOffset++] as number;
}

let lastTime = -1;
// The 16 random base32 digits of the last id, as numbers 0–31, for monotonic increments.
const lastRandom = new Array<number>(16).fill(0);

function encodeTime(time: number): string {
  let out = '';
  for (let i = 9; i >= 0; i--) {
    const mod = time % 32;
    out = ALPHABET[mod] + out;
    time = (time - mod) / 32;
  }
  return out;
}

/**
 * A new job id. Within one millisecond (or if the clock steps back) the random part is
 * incremented instead of redrawn, so ids minted in one process are strictly increasing.
 */
export function newJobId(now: number = Date.now()): string {
  if (now <= lastTime) {
    let i = 15;
    while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0;
    if (i < 0) throw new Error('job id space exhausted for this millisecond');
    lastRandom[i] = (lastRandom[i] as number) + 1;
    now = lastTime;
  } else {
    lastTime = now;
    for (let i = 0; i < 16; i++) lastRandom[i] = randomByte() & 31;
    lastRandom[0] = (lastRandom[0] as number) & 15; // headroom so increments rarely overflow
  }
  let random = '';
  for (let i = 0; i < 16; i++) random += ALPHABET[lastRandom[i] as number];
  return encodeTime(now) + random;
}

/** The latest time a job id can carry (48 bits of ms). */
export const MAX_JOB_ID_TIME = 2 ** 48 - 1;

/**
 * The smallest job id minted at `time` (epoch ms, clamped to what an id can carry): every job
 * created at or after `time` has an id at or above it, every one created before an id below
 * it. A job's `createdAt` is the time in its id (both are the submitting server's clock), so
 * listings filter on creation time with a range of ids, on the index they already page by.
 */
export function jobIdFloor(time: number): string {
  const t = Math.min(MAX_JOB_ID_TIME, Math.max(0, Math.floor(time)));
  return encodeTime(t) + '0'.repeat(16);
}

/** A new lease token: unguessable, so only the holder of an assignment can report on it. */
export function newLeaseToken(): string {
  return randomUUID();
}

export function newAgentId(): string {
  return `agent-${randomBytes(6).toString('hex')}`;
}
