/**
 * The HTTP client of the git step: isomorphic-git's ref discovery goes through it, and so do
 * Baton's own upload-pack and receive-pack requests.
 *
 * Why not `isomorphic-git/http/node`: it cannot take a CA bundle (the Secret's `caFile`), does not
 * report progress, and follows redirects wherever they lead, credentials included. This one trusts
 * the given CA in addition to the system's, reports bytes moved (so activities heartbeat while a
 * large fetch streams in), stops on the activity's cancellation signal, bounds every request in
 * time and size (limits.ts), and follows redirects only within the same origin, as the provider
 * client does: the credentials go to no other host, and never from https down to http.
 */
import { Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { redactUrl } from '../http/redact-url.js';
import { followRedirect, isRedirect } from '../http/redirects.js';
import { trustedCertificates } from '../http/trust.js';
import { DEFAULT_GIT_LIMITS, formatBytes, type GitLimits } from './limits.js';
import { RefusedGitData } from './refused-git-data.js';

/** The limits a transport enforces. */
export type TransportLimits = Pick<GitLimits, 'maxResponseBytes' | 'connectTimeoutMs' | 'idleTimeoutMs' | 'requestTimeoutMs'>;

export interface GitHttpOptions {
  /** PEM certificates to trust besides the system's (the Secret's `caFile`). */
  ca?: string | Buffer;
  signal?: AbortSignal;
  /** Called with each chunk's size, sent or received. */
  onBytes?: (bytes: number) => void;
  /** Default: DEFAULT_GIT_LIMITS. */
  limits?: TransportLimits;
}

export interface GitHttpClient extends HttpClient {
  /** Closes the kept-alive connections. */
  close(): void;
  /**
   * The first answer this client refused (too large, a redirect it does not follow). Kept because
   * isomorphic-git swallows some body errors and reports a parse failure in their place.
   */
  readonly refusal: RefusedGitData | undefined;
}

/** The server took too long: a connection, a silence, or a whole request. Retryable, like any network trouble. */
export class GitTimeoutError extends Error {
  override readonly name = 'GitTimeoutError';
}

type Body = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

function flattenHeaders(message: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Sends the body first in full: git requests are small (negotiation) or already in memory (our pack). */
async function collect(body: Body | undefined): Promise<Buffer | undefined> {
  if (body === undefined) return undefined;
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export function createGitHttpClient(options: GitHttpOptions = {}): GitHttpClient {
  const limits = options.limits ?? DEFAULT_GIT_LIMITS;
  const ca = trustedCertificates(options.ca);
  const httpsAgent = new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}) });
  const httpAgent = new HttpAgent({ keepAlive: true });
  let refusal: RefusedGitData | undefined;
  const refuse = (error: RefusedGitData): RefusedGitData => {
    refusal ??= error;
    return error;
  };

  /** One request, bounded in time from the first byte sent to the answer's last byte read. */
  const exchange = (url: URL, method: string, headers: OutgoingHttpHeaders, body: Buffer | undefined): Promise<IncomingMessage> => {
    const isHttps = url.protocol === 'https:';
    const call = isHttps ? httpsRequest : httpRequest;
    const shown = redactUrl(url.href);
    return new Promise<IncomingMessage>((resolve, reject) => {
      let message: IncomingMessage | undefined;
      const fail = (error: Error): void => {
        if (message) message.destroy(error);
        else outgoing.destroy(error);
      };
      const outgoing = call(
        url,
        {
          method,
          headers,
          agent: isHttps ? httpsAgent : httpAgent,
          // The socket's idle timeout: while connecting, waiting for the answer and reading it.
          timeout: limits.idleTimeoutMs,
          ...(options.signal ? { signal: options.signal } : {}),
        },
        (answer) => {
          message = answer;
          // A body nobody reads any more (the caller gave up, the signal fired) must not crash the
          // process with an unhandled 'error'; readers still see errors through the iterator.
          answer.on('error', () => undefined);
          answer.once('close', () => clearTimeout(deadline));
          resolve(answer);
        },
      );
      const deadline = setTimeout(
        () => fail(new GitTimeoutError(`${shown} did not complete its answer within ${limits.requestTimeoutMs / 1000} s`)),
        limits.requestTimeoutMs,
      );
      deadline.unref();
      outgoing.on('timeout', () => fail(new GitTimeoutError(`${shown} sent nothing for ${limits.idleTimeoutMs / 1000} s`)));
      outgoing.on('socket', (socket) => {
        if (!socket.connecting) return;
        const connecting = setTimeout(
          () => fail(new GitTimeoutError(`could not connect to ${shown} within ${limits.connectTimeoutMs / 1000} s`)),
          limits.connectTimeoutMs,
        );
        connecting.unref();
        socket.once('connect', () => clearTimeout(connecting));
        socket.once('close', () => clearTimeout(connecting));
      });
      outgoing.on('error', (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      if (body) options.onBytes?.(body.length);
      outgoing.end(body);
    });
  };

  async function* countedBody(message: IncomingMessage): AsyncIterableIterator<Uint8Array> {
    let size = 0;
    for await (const chunk of message as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limits.maxResponseBytes) {
        message.destroy();
        throw refuse(new RefusedGitData(`its answer is larger than ${formatBytes(limits.maxResponseBytes)}`, 'too-large'));
      }
      options.onBytes?.(chunk.length);
      yield chunk;
    }
  }

  const send = async (request: GitHttpRequest): Promise<GitHttpResponse> => {
    options.signal?.throwIfAborted();
    let url = new URL(request.url);
    let method = request.method ?? 'GET';
    let body = await collect(request.body as Body | undefined);
    const headers: OutgoingHttpHeaders = { ...request.headers };
    for (let hops = 0; ; hops++) {
      if (body) headers['content-length'] = String(body.length);
      const message = await exchange(url, method, headers, body);
      const status = message.statusCode ?? 0;
      const location = message.headers.location;
      if (isRedirect(status, location)) {
        message.destroy();
        const step = followRedirect(url, status, location, method, hops);
        if (!step.followed) throw refuse(new RefusedGitData(step.refusal, 'redirect'));
        if (step.dropsBody) {
          body = undefined;
          for (const name of Object.keys(headers)) {
            if (['content-type', 'content-length', 'content-encoding'].includes(name.toLowerCase())) delete headers[name];
          }
        }
        url = step.url;
        method = step.method;
        continue;
      }
      const declared = Number(message.headers['content-length']);
      if (declared > limits.maxResponseBytes) {
        message.destroy();
        throw refuse(
          new RefusedGitData(
            `it announces an answer of ${formatBytes(declared)}, over ${formatBytes(limits.maxResponseBytes)}`,
            'too-large',
          ),
        );
      }
      return {
        url: request.url,
        method,
        statusCode: status,
        statusMessage: message.statusMessage ?? '',
        headers: flattenHeaders(message),
        body: countedBody(message),
      };
    }
  };

  return {
    request: send,
    close() {
      httpsAgent.destroy();
      httpAgent.destroy();
    },
    get refusal() {
      return refusal;
    },
  };
}
