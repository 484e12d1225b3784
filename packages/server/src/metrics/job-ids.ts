/** Crockford base32, as job ids (ULIDs) are written. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * When a job was created (epoch ms), read from its id: job ids are ULIDs, whose first ten
 * characters are the creation time (see core's ids.ts). Null for an id that is not a ULID.
 */
export function createdAtOfJobId(id: string): number | null {
  if (id.length < 10) return null;
  let time = 0;
  for (let i = 0; i < 10; i++) {
    const digit = ALPHABET.indexOf(id.charAt(i).toUpperCase());
    if (digit < 0) return null;
    time = time * 32 + digit;
  }
  return time;
}
