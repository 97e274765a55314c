/**
 * A server span for each request the gateway answers, the root of the trace a Flux event starts:
 * the Temporal client's interceptor makes the signal-with-start (or signal, update, query) span its
 * child and hands the context to the workflow through the call's headers. A request carrying a W3C
 * `traceparent` (an ingress that traces) continues that trace.
 *
 * The span opens when the request arrives and becomes the active span from validation on: the body
 * is read on the socket's own async context, so only the hooks after it and the handler run in the
 * request's. Polled routes (probes, metrics) opt out with `config: { trace: false }`.
 */
import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export function traceRequests(app: FastifyInstance, tracer: Tracer): void {
  const spans = new WeakMap<FastifyRequest, Span>();

  app.addHook('onRequest', (request, _reply, done) => {
    if (request.routeOptions.config.trace !== false) {
      const route = request.routeOptions.url;
      const parent = propagation.extract(ROOT_CONTEXT, request.headers);
      const span = tracer.startSpan(
        route === undefined ? request.method : `${request.method} ${route}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': request.method,
            'url.path': request.url.split('?')[0],
            ...(route === undefined ? {} : { 'http.route': route }),
          },
        },
        parent,
      );
      spans.set(request, span);
    }
    done();
  });

  app.addHook('preValidation', (request, _reply, done) => {
    const span = spans.get(request);
    if (span === undefined) {
      done();
      return;
    }
    context.with(trace.setSpan(context.active(), span), done);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span !== undefined) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      // Server spans: a 4xx is the client's error, not the gateway's.
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      spans.delete(request);
    }
    done();
  });

  app.addHook('onRequestAbort', (request, done) => {
    const span = spans.get(request);
    if (span !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection' });
      span.end();
      spans.delete(request);
    }
    done();
  });
}
