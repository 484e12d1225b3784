import type { FastifyInstance } from 'fastify';
import {
  BatonError,
  ValidationError,
  describeIssues,
  newUserSchema,
  ownerSchema,
  tokenIdSchema,
  userChangeSchema,
} from '@baton/core';
import type { Store, StoredToken, UserAccount } from '@baton/store';
import type { z } from 'zod';
import type { Authenticator } from '../auth/authenticator.js';
import { isAdmin } from '../auth/principal.js';
import { mintToken } from '../auth/tokens.js';
import type { QuotaBook } from '../quota/quota-book.js';
import { requireAdmin, requireSeeAll, requireSelfOrAdmin, requireSelfOrSeeAll } from './authentication.js';

/** Parses with a schema, or a 400 naming what is wrong. */
export function parsed<T extends z.ZodType>(schema: T, value: unknown, prefix = ''): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const { message, details } = describeIssues(result.error);
    throw new ValidationError(`${prefix}${message}`, details);
  }
  return result.data;
}

const userJson = (u: UserAccount) => ({
  name: u.name,
  role: u.role,
  weight: u.weight,
  createdAt: new Date(u.createdAt).toISOString(),
});
// Never the hash: it is of no use to a client, and one less copy of it about.
const tokenJson = (t: StoredToken) => ({ id: t.id, user: t.user, createdAt: new Date(t.createdAt).toISOString() });

/** `:name` of a user route, checked like any user name. */
const nameParam = (params: { name: string }): string => parsed(ownerSchema, params.name, 'user name: ');

/**
 * Users and their tokens. Admins manage users; a user may mint, list and revoke their own
 * tokens. A token is returned once, when minted; the store keeps only its digest.
 */
export function registerUsersRoutes(
  app: FastifyInstance,
  deps: { store: Store; auth: Authenticator; quotas: QuotaBook },
): void {
  const { store, auth } = deps;

  app.post('/api/users', async (request, reply) => {
    requireAdmin(request);
    const user = await store.createUser(parsed(newUserSchema, request.body));
    return reply.status(201).send(userJson(user));
  });

  app.get('/api/users', async (request) => {
    requireSeeAll(request);
    return { users: (await store.listUsers()).map(userJson) };
  });

  app.patch<{ Params: { name: string } }>('/api/users/:name', async (request) => {
    requireAdmin(request);
    const name = nameParam(request.params);
    const user = await store.updateUser(name, parsed(userChangeSchema, request.body));
    // A changed role applies on this server at once (elsewhere within the token cache's life).
    auth.forgetUser(name);
    return userJson(user);
  });

  app.delete<{ Params: { name: string } }>('/api/users/:name', async (request) => {
    requireAdmin(request);
    const name = nameParam(request.params);
    if (!(await store.deleteUser(name))) throw new BatonError('USER_NOT_FOUND', `no user ${name}`, 404);
    auth.forgetUser(name);
    deps.quotas.forget(name);
    return { name, deleted: true };
  });

  app.post<{ Params: { name: string } }>('/api/users/:name/tokens', async (request, reply) => {
    const name = nameParam(request.params);
    requireSelfOrAdmin(request, name);
    const minted = mintToken();
    const stored = await store.createToken({ id: minted.id, user: name, hash: minted.hash });
    return reply.status(201).send({ ...tokenJson(stored), token: minted.token });
  });

  app.get<{ Params: { name: string } }>('/api/users/:name/tokens', async (request) => {
    const name = nameParam(request.params);
    requireSelfOrSeeAll(request, name);
    if (!(await store.getUser(name))) throw new BatonError('USER_NOT_FOUND', `no user ${name}`, 404);
    return { tokens: (await store.listTokens(name)).map(tokenJson) };
  });

  app.delete<{ Params: { id: string } }>('/api/tokens/:id', async (request) => {
    const id = parsed(tokenIdSchema, request.params.id, 'token id: ');
    const token = await store.getToken(id);
    // Another user's token reads as missing: its existence is not theirs to learn.
    if (!token || (!isAdmin(request.principal) && token.user !== request.principal.name)) {
      throw new BatonError('TOKEN_NOT_FOUND', `no token ${id}`, 404);
    }
    await store.deleteToken(id);
    auth.forget(id);
    return { id, user: token.user, revoked: true };
  });

  app.get('/api/me', async (request) => {
    const p = request.principal;
    const stored = p.builtIn ? null : await store.getUser(p.name);
    return {
      name: p.name,
      role: p.role,
      weight: stored?.weight ?? 1,
      builtIn: p.builtIn,
      quota: (await deps.quotas.effective(p.name)).quota,
    };
  });
}
