import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API tokens: `baton_<id>_<secret>`. The id (16 hex) is public and finds the stored record; the
 * secret (32 random bytes, base64url) is never stored, only its SHA-256. A random 256-bit secret
 * needs no slow hash: nothing can be guessed from its digest.
 */
const TOKEN_SHAPE = /^baton_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface MintedToken {
  id: string;
  /** The whole token, shown to its user once. */
  token: string;
  /** What the store keeps. */
  hash: string;
}

export function mintToken(): MintedToken {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `baton_${id}_${secret}`, hash: sha256(secret) };
}

/** The id and the secret's digest of a well-formed token; null for anything else. */
export function parseToken(token: string): { id: string; hash: string } | null {
  const m = TOKEN_SHAPE.exec(token);
  if (!m) return null;
  return { id: m[1] as string, hash: sha256(m[2] as string) };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Equal digests (hex of the same length), compared in time independent of where they differ. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
