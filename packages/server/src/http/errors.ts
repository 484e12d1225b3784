import type { FastifyError, FastifyInstance } from 'fastify';
import { BatonError, RetryLaterError } from '@baton/core';

/**
 * Seconds a client is told to wait (`Retry-After`) when the store is unavailable: long enough
 * not to hammer a restarting database, short enough that a blip costs little.
 */
export const STORE_RETRY_AFTER_S = 2;

/** Fastify's own error codes, turned into Baton's stable codes and messages. */
const FASTIFY_ERRORS: Record<string, { status: number; code: string; message?: (e: FastifyError) => string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: 'INVALID_JSON',
    message: (e) => `request body is not valid JSON: ${e.message}`,
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'INVALID_JSON',
    message: () => 'request body is empty; send a JSON object',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message: () => 'request body is larger than this endpoint accepts',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: () => 'send the request body as application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_REQUEST', message: (e) => e.message },
};

/** Every error leaves the API as `{"error":{"code","message","details"}}` with a fitting status. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | BatonError | Error, request, reply) => {
    if (err instanceof BatonError && err.code === 'STORE_UNAVAILABLE') {
      // The client learns only that the store is down; the driver's error is for the operator.
      request.log.warn({ err: err.cause ?? err }, 'store unavailable');
      reply.header('retry-after', String(STORE_RETRY_AFTER_S));
    }
    if (err instanceof RetryLaterError) reply.header('retry-after', String(err.retryAfterS));
    if (err instanceof BatonError) {
      return reply
        .status(err.httpStatus)
        .send({ error: { code: err.code, message: err.message, details: err.details ?? null } });
    }
    const fastifyErr = err as FastifyError;
    const known = fastifyErr.code ? FASTIFY_ERRORS[fastifyErr.code] : undefined;
    if (known) {
      return reply
        .status(known.status)
        .send({ error: { code: known.code, message: known.message?.(fastifyErr) ?? err.message, details: null } });
    }
    if (fastifyErr.statusCode && fastifyErr.statusCode >= 400 && fastifyErr.statusCode < 500) {
      return reply
        .status(fastifyErr.statusCode)
        .send({ error: { code: 'INVALID_REQUEST', message: err.message, details: null } });
    }
    request.log.error({ err }, 'request failed');
    return reply
      .status(500)
      .send({ error: { code: 'INTERNAL', message: 'internal error; see the server log', details: null } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'ROUTE_NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
        details: null,
      },
    }),
  );
}
