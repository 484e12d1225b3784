import type { Role } from '@baton/store';

/** Who a request acts as, once its token is checked. */
export interface Principal {
  /** The user's name: the owner of the jobs they submit. */
  name: string;
  role: Role;
  /** Not a stored user: the server's `--admin-token` admin, or everyone under `--insecure-no-auth`. */
  builtIn: boolean;
}

/** The name the server's own admin token acts as. */
export const BUILT_IN_ADMIN = 'admin';

/** May change anything: users, quotas, every job. */
export const isAdmin = (p: Principal): boolean => p.role === 'admin';

/** Changes nothing: every request but a read is refused (http/authentication.ts). */
export const isViewer = (p: Principal): boolean => p.role === 'viewer';

/** May read what an admin reads: every job, every user, the fleet (an admin or a viewer). */
export const maySeeAll = (p: Principal): boolean => p.role === 'admin' || p.role === 'viewer';

/** Whether `p` may see and follow a job (or workflow) of `owner`. */
export const mayView = (p: Principal, owner: string): boolean => maySeeAll(p) || p.name === owner;

/** Whether `p` may change (cancel, retry) a job of `owner`. */
export const mayActOn = (p: Principal, owner: string): boolean => isAdmin(p) || p.name === owner;
