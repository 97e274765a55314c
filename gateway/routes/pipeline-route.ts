/**
 * What the two Pipeline-addressed routes (`/promotion/…`, `/approval/…`) share: POST only, and the
 * Pipeline resolved from the path before the body is read, so an unknown Pipeline is a 404 whatever
 * the body, and a source still loading is a 503 rather than a false 404.
 */
import type { FastifyInstance, FastifyRequest, preParsingHookHandler } from 'fastify';
import type { PipelineSource } from '../../pipelines/source.js';
import { ErrorBody, html, HttpError } from '../errors.js';

/** `Retry-After` of the gateway's 503s: Flux retries about four times within a couple of minutes. */
export const RETRY_AFTER_SECONDS = 30;

function methodNotAllowed(method: string): HttpError {
  return new HttpError(405, html`method ${method} is not allowed, use POST`, { headers: { allow: 'POST' } });
}

/** Every other method under `prefix` is a 405 with `Allow: POST`, decided before any body parsing. */
export function rejectNonPostMethods(app: FastifyInstance, prefix: string): void {
  app.route({
    method: app.supportedMethods.filter((method) => method !== 'POST'),
    url: `${prefix}/*`,
    exposeHeadRoute: false,
    schema: { response: { '4xx': ErrorBody } },
    preParsing: (request, _reply, _payload, done) => done(methodNotAllowed(request.method)),
    handler: (request) => {
      throw methodNotAllowed(request.method);
    },
  });
}

/** A preParsing hook that sets `request.pipeline` from the `namespace`/`name` path parameters. */
export function resolvePipelineFromPath(pipelines: PipelineSource): preParsingHookHandler {
  return (request: FastifyRequest, _reply, payload, done) => {
    const { namespace, name } = request.params as { namespace: string; name: string };
    const pipeline = pipelines.getPipeline({ namespace, name });
    if (pipeline !== undefined) {
      request.pipeline = pipeline;
      done(null, payload);
    } else if (!pipelines.isSynced()) {
      done(new HttpError(503, 'Pipelines are still loading; retry later', { headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } }));
    } else {
      done(new HttpError(404, html`Pipeline ${namespace}/${name} not found`));
    }
  };
}
