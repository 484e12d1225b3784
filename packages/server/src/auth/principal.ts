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

export const isAdmin = (p: Principal): boolean => p.role === 'admin';

/** Whether `p` may see, follow and cancel a job of `owner`. */
export const mayActOn = (p: Principal, owner: string): boolean => isAdmin(p) || p.name === owner;
