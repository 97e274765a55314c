/**
 * The HTTP client of the git step: isomorphic-git's ref discovery goes through it, and so do
 * Baton's own upload-pack and receive-pack requests.
 *
 * Why not `isomorphic-git/http/node`: it cannot take a CA bundle (the Secret's `caFile`), does not
 * report progress, and follows redirects wherever they lead, credentials included. This one trusts
 * the given CA in addition to the system's, reports bytes moved (so activities heartbeat while a
 * large fetch streams in), stops on the activity's cancellation signal, and never follows redirects.
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';

export interface GitHttpOptions {
  /** PEM certificates to trust besides the system's (the Secret's `caFile`). */
  ca?: string | Buffer;
  signal?: AbortSignal;
  /** Called with each chunk's size, sent or received. */
  onBytes?: (bytes: number) => void;
}

export interface GitHttpClient extends HttpClient {
  /** Closes the kept-alive connections. */
  close(): void;
}

type Body = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

function flattenHeaders(message: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function* countedBody(message: IncomingMessage, onBytes?: (bytes: number) => void): AsyncIterableIterator<Uint8Array> {
  for await (const chunk of message as AsyncIterable<Buffer>) {
    onBytes?.(chunk.length);
    yield chunk;
  }
}

/** Sends the body first in full: git requests are small (negotiation) or already in memory (our pack). */
async function collect(body: Body | undefined): Promise<Buffer | undefined> {
  if (body === undefined) return undefined;
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export function createGitHttpClient(options: GitHttpOptions = {}): GitHttpClient {
  // Node replaces its default trust store when `ca` is given; keep the public roots next to the custom CA.
  const ca = options.ca === undefined ? undefined : [...rootCertificates, options.ca.toString()];
  const httpsAgent = new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}) });
  const httpAgent = new HttpAgent({ keepAlive: true });

  const send = async (request: GitHttpRequest): Promise<GitHttpResponse> => {
    options.signal?.throwIfAborted();
    const url = new URL(request.url);
    const body = await collect(request.body as Body | undefined);
    const headers = { ...request.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
    const isHttps = url.protocol === 'https:';
    const call = isHttps ? httpsRequest : httpRequest;
    return new Promise<GitHttpResponse>((resolve, reject) => {
      const outgoing = call(
        url,
        {
          method: request.method ?? 'GET',
          headers,
          agent: isHttps ? httpsAgent : httpAgent,
          ...(options.signal ? { signal: options.signal } : {}),
        },
        (message) => {
          // A body nobody reads any more (the caller gave up, the signal fired) must not crash the
          // process with an unhandled 'error'; readers still see errors through the iterator.
          message.on('error', () => undefined);
          resolve({
            url: request.url,
            method: request.method ?? 'GET',
            statusCode: message.statusCode ?? 0,
            statusMessage: message.statusMessage ?? '',
            headers: flattenHeaders(message),
            body: countedBody(message, options.onBytes),
          });
        },
      );
      outgoing.on('error', reject);
      if (body) options.onBytes?.(body.length);
      outgoing.end(body);
    });
  };

  return {
    request: send,
    close() {
      httpsAgent.destroy();
      httpAgent.destroy();
    },
  };
}
