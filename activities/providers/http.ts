/**
 * The HTTP client under every provider: `fetch`, with a per-request timeout and, when the Secret
 * has a `caFile`, a TLS trust store of its own. No retries here: a failed call becomes a typed
 * failure and Temporal's retry policy (with the provider's `Retry-After`) decides what happens next.
 */
import http from 'node:http';
import https from 'node:https';

export type Fetch = typeof globalThis.fetch;

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_USER_AGENT = 'baton';

export interface HttpOptions {
  /** Replaces the HTTP client (tests); `ca` is then the replacement's business. */
  fetch?: Fetch;
  /** PEM certificates trusted for the provider's API, e.g. the Secret's `caFile`. */
  ca?: string | Buffer;
  /** Bound on each request (default 30 s). */
  timeoutMs?: number;
}

/** An answer outside 2xx, as every provider's code sees it. */
export class ProviderHttpError extends Error {
  override readonly name = 'ProviderHttpError';
  constructor(
    readonly status: number,
    readonly headers: Headers,
    /** The provider's own error message, extracted from its body (may be empty). */
    readonly detail: string,
    /** The parsed JSON body, when there was one. */
    readonly body: unknown,
  ) {
    super(`HTTP ${status}${detail ? `: ${detail}` : ''}`);
  }
}

export function providerFetch(options: HttpOptions): Fetch {
  const base = options.fetch ?? (options.ca === undefined ? globalThis.fetch : fetchTrusting(options.ca));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return base(input, { ...init, signal });
  };
}

/** Reads a response body as JSON when it says so, else as text; never throws. */
export async function readBody(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => '');
  if (!/\bjson\b/i.test(response.headers.get('content-type') ?? '')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/**
 * A `fetch` over node:https that trusts `ca` (Node's global fetch cannot take a CA without a
 * dependency on undici). It buffers bodies: provider API answers are small JSON documents.
 */
export function fetchTrusting(ca: string | Buffer): Fetch {
  const agent = new https.Agent({ ca, keepAlive: true });
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body) headers['content-length'] = String(body.length);
    const secure = url.protocol === 'https:';
    return new Promise<Response>((resolve, reject) => {
      const outgoing = (secure ? https : http).request(
        url,
        { method: request.method, headers, signal: request.signal, ...(secure ? { agent } : {}) },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('error', reject);
          incoming.on('end', () => {
            const status = incoming.statusCode ?? 502;
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(incoming.headers)) {
              if (value === undefined) continue;
              for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(name, one);
            }
            resolve(
              new Response(NULL_BODY_STATUSES.has(status) ? null : Buffer.concat(chunks), {
                status,
                statusText: incoming.statusMessage ?? '',
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      outgoing.on('error', (error) => reject(new TypeError('fetch failed', { cause: error })));
      outgoing.end(body);
    });
  };
}
