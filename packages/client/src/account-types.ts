/** What a user may do: `admin` manages users, tokens and quotas and sees every job; `user` their own. */
/** `viewer`: sees what an admin sees, changes nothing. */
export type Role = 'admin' | 'user' | 'viewer';

/** A user as the API shows it. `createdAt` is an ISO time. */
export interface UserView {
  name: string;
  role: Role;
  /** Share of the fleet against other users under fair share. */
  weight: number;
  createdAt: string;
}

export interface NewUser {
  name: string;
  /** Default `user`. */
  role?: Role;
  /** A number > 0; default 1. */
  weight?: number;
}

/** A token as listed: never its secret. */
export interface TokenView {
  id: string;
  user: string;
  createdAt: string;
}

/** A token just created: `token` is shown this once; the server keeps only its hash. */
export interface CreatedToken extends TokenView {
  token: string;
}

/** Limits on one user's work; null is unlimited. */
export interface Quota {
  /** Jobs assigned or running at once. */
  maxRunningJobs: number | null;
  /** GPUs held by the user's assigned and running jobs at once. */
  maxGpus: number | null;
  /** Jobs queued or delayed at once (checked at submission: 429 `QUOTA_EXCEEDED`). */
  maxQueuedJobs: number | null;
  /** Submissions per second (429 `RATE_LIMITED` over it). */
  submitRatePerSec: number | null;
}

/** A change to a quota: a field given replaces it (null: unlimited), one left out stays. */
export type QuotaPatch = Partial<Quota>;

/** One user's quota, and whether it is their own or the default. */
export interface UserQuotaView {
  user: string;
  quota: Quota;
  source: 'user' | 'default';
}

/** Who the caller's token acts as (`GET /api/me`). */
export interface WhoAmI {
  name: string;
  role: Role;
  weight: number;
  /** The server's own admin (`--admin-token`) or an insecure server's user, not a stored user. */
  builtIn: boolean;
  quota: Quota;
}
