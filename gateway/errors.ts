/**
 * The gateway's one error handler and the error it throws on purpose. Every error body is
 * `{statusCode, error, message}`; whatever a message reflects from the request is HTML-escaped,
 * only that: the contract's fixed texts go out byte for byte. A 5xx body never carries details:
 * they go to the log only.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { escapeHtml } from '../model/html.js';

/** Every error body; routes declare it for their 4xx/5xx responses. */
export const ErrorBody = Type.Object({ statusCode: Type.Integer(), error: Type.String(), message: Type.String() });
export type ErrorBody = Static<typeof ErrorBody>;

/** Template tag: literal parts verbatim, every interpolated value HTML-escaped. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): string {
  return strings.reduce((text, literal, i) => text + escapeHtml(String(values[i - 1])) + literal);
}

export interface HttpErrorOptions {
  /** Response headers (`Allow`, `Retry-After`, …). */
  headers?: Record<string, string>;
  /** Logged with the error, never sent. */
  details?: Record<string, unknown>;
  /**
   * Extra fields of a 4xx body (e.g. the approval endpoint's `reason`), sent as they are: escape
   * whatever they reflect. Routes that send them declare them in their response schema.
   */
  fields?: Record<string, string>;
  cause?: unknown;
}

/**
 * An answer the gateway gives on purpose. `message` is sent as it is: build it with `html` when it
 * includes anything that came with the request. Anything the caller must not see goes into
 * `details`, which only the log receives.
 */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly headers: Record<string, string>;
  readonly details: Record<string, unknown>;
  readonly fields: Record<string, string>;

  constructor(
    readonly statusCode: number,
    message: string,
    options: HttpErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.headers = options.headers ?? {};
    this.details = options.details ?? {};
    this.fields = options.fields ?? {};
  }
}

/** Weave's text for a promotion that cannot proceed for a reason only the operator can fix. */
export const INTERNAL_ERROR_MESSAGE = "error promoting application, please consult the promotion server's logs";

function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

function statusOf(error: FastifyError | HttpError): number {
  const code = error.statusCode;
  return typeof code === 'number' && code >= 400 && code <= 599 ? code : 500;
}

export function errorHandler(error: FastifyError | HttpError, request: FastifyRequest, reply: FastifyReply): void {
  const statusCode = statusOf(error);
  if (error instanceof HttpError) {
    for (const [name, value] of Object.entries(error.headers)) void reply.header(name, value);
  }
  const details = error instanceof HttpError ? error.details : {};
  if (statusCode >= 500) {
    request.log.error({ err: error.cause ?? error, ...details }, `answering ${statusCode}: ${error.message}`);
    // An HttpError's message is written for the caller; any other 5xx message may carry internals.
    const message = error instanceof HttpError ? error.message : 'internal error, please consult the gateway logs';
    void reply.code(statusCode).send(errorBody(statusCode, message));
    return;
  }
  // Fastify's and plugins' messages may quote the request (a content type, a URL): escape them whole.
  // Fastify's own 415 text names no type; say which one the webhook takes.
  const message =
    error instanceof HttpError
      ? error.message
      : error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'content type must be application/json'
        : escapeHtml(error.message);
  const fields = error instanceof HttpError ? error.fields : {};
  if (statusCode !== 404 && statusCode !== 429) {
    request.log.info({ statusCode, reason: message, ...fields, ...details }, 'request refused');
  }
  void reply.code(statusCode).send({ ...fields, ...errorBody(statusCode, message) });
}
