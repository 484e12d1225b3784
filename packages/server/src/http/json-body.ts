import type { FastifyInstance } from 'fastify';
import { MAX_BODY_DEPTH, MAX_PAYLOAD_DEPTH, ValidationError, textNestedDeeperThan } from '@baton/core';

/**
 * The API's JSON body parser: fastify's own (which refuses `__proto__` and `constructor`
 * poisoning), behind a scan of the raw text. A body nested deeper than `MAX_BODY_DEPTH` is
 * refused before it is parsed: deep nesting costs the parser far more memory per byte than
 * anything else a body can hold, and nothing valid is nested that deep.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const { onProtoPoisoning = 'error', onConstructorPoisoning = 'error' } = app.initialConfig;
  const parse = app.getDefaultJsonParser(onProtoPoisoning, onConstructorPoisoning);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8'); // parseAs: 'string' gives a string
    if (textNestedDeeperThan(text, MAX_BODY_DEPTH)) {
      done(
        new ValidationError(
          `request body is nested deeper than ${MAX_BODY_DEPTH} levels (a job's payload may be nested at most ${MAX_PAYLOAD_DEPTH})`,
          { maxDepth: MAX_BODY_DEPTH },
          'PAYLOAD_TOO_DEEP',
        ),
        undefined,
      );
      return;
    }
    parse(request, text, done);
  });
}
