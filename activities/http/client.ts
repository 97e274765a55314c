/**
 * The HTTP client of the provider APIs: one undici `Agent` per client (kept-alive connections,
 * the Secret's CA added to the system roots), a timeout per request, a bounded answer, and
 * redirects followed only within the same origin, so a server cannot send the token elsewhere.
 */
import { Agent, type Dispatcher } from 'undici';
import { followRedirect, isRedirect } from './redirects.js';
import { trustedCertificates } from './trust.js';

export type Fetch = typeof globalThis.fetch;

export const DEFAULT_TIMEOUT_MS = 30_000;
/** Provider answers are JSON documents; a page of 100 pull requests with long bodies stays far below. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

export interface HttpClientOptions {
  /** PEM certificates trusted besides the system's (the Secret's `caFile`). */
  ca?: string | Buffer;
  /** Bound on each request, headers and body (default 30 s). */
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export interface HttpClient {
  fetch: Fetch;
  /** Closes the connections once the requests in flight are done. */
  close(): Promise<void>;
}

/** A redirect Baton does not follow: to another origin (host, port or scheme) or one too many. */
export class RedirectRefusedError extends Error {
  override readonly name = 'RedirectRefusedError';
  constructor(
    readonly status: number,
    refusal: string,
  ) {
    super(refusal);
  }
}

export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(limit: number) {
    super(`the answer is larger than ${limit} bytes`);
  }
}

async function readCapped(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new ResponseTooLargeError(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function responseHeaders(raw: Dispatcher.ResponseData['headers']): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const ca = trustedCertificates(options.ca);
  const agent = new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs, ...(ca ? { connect: { ca } } : {}) });

  const fetch: Fetch = async (input, init) => {
    const request = new Request(input, init);
    let url = new URL(request.url);
    let method = request.method;
    let body: Buffer | undefined = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;

    for (let hops = 0; ; hops += 1) {
      const answer = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        signal,
        ...(body === undefined ? {} : { body }),
      });
      const location = answer.headers.location;
      if (isRedirect(answer.statusCode, location)) {
        await answer.body.dump();
        const step = followRedirect(url, answer.statusCode, location, method, hops);
        if (!step.followed) throw new RedirectRefusedError(answer.statusCode, step.refusal);
        if (step.dropsBody) {
          body = undefined;
          delete headers['content-type'];
          delete headers['content-length'];
        }
        url = step.url;
        method = step.method;
        continue;
      }
      const status = answer.statusCode;
      const bytes = await readCapped(answer.body, maxResponseBytes);
      return new Response(NULL_BODY_STATUSES.has(status) ? null : bytes, { status, headers: responseHeaders(answer.headers) });
    }
  };

  return { fetch, close: () => agent.close() };
}
