/**
 * The HTTP server under the provider fakes: loopback, a free port, optional TLS; records every
 * request (method, path, query, which credential scheme was sent — never its value — and body);
 * and lets a test make the next matching requests answer something else (rate limits, outages,
 * a list that does not show a PR yet).
 */
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  /** An object or array is sent as JSON, a string as text/plain, undefined as no body. */
  body?: unknown;
}

export interface RecordedRequest {
  method: string;
  /** Path as sent (percent-encoding kept), without the query. */
  path: string;
  query: Record<string, string>;
  /** The credential scheme the request carried (`Bearer`, `token`, `PRIVATE-TOKEN`), never its value. */
  auth: string | undefined;
  body: unknown;
  /** When it arrived, in milliseconds of `performance.now()`: for rates across requests. */
  at: number;
}

export interface Injection extends FakeResponse {
  /** Answer only after this long (a hanging provider). */
  delayMs?: number;
  method?: string;
  /** Matched against the path (a string must be contained in it). */
  path?: RegExp | string;
}

export interface TlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
}

export type Handler = (request: FakeRequest) => FakeResponse;

function authScheme(headers: IncomingHttpHeaders): string | undefined {
  if (headers['private-token'] !== undefined) return 'PRIVATE-TOKEN';
  const authorization = headers.authorization;
  return authorization ? authorization.split(' ')[0] : undefined;
}

/** The credential a request carries, for the fakes' own checks. */
export function credential(headers: IncomingHttpHeaders): { scheme: string; value: string } | undefined {
  const privateToken = headers['private-token'];
  if (typeof privateToken === 'string') return { scheme: 'private-token', value: privateToken };
  const match = /^(\S+)\s+(.+)$/.exec(headers.authorization ?? '');
  return match ? { scheme: match[1]!.toLowerCase(), value: match[2]! } : undefined;
}

export class HttpFake {
  readonly requests: RecordedRequest[] = [];
  /** TCP connections accepted; a test may reset it. */
  connections = 0;
  private readonly injections: Injection[] = [];
  private origin = '';

  private constructor(private readonly server: ReturnType<typeof createHttpServer>) {}

  static async start(handler: Handler, tls?: TlsOptions): Promise<HttpFake> {
    const listener = (request: IncomingMessage, response: ServerResponse) => {
      void fake.serve(handler, request, response);
    };
    const server = tls ? createHttpsServer(tls, listener) : createHttpServer(listener);
    const fake = new HttpFake(server);
    server.on(tls ? 'secureConnection' : 'connection', () => {
      fake.connections += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    fake.origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return fake;
  }

  /** `http://127.0.0.1:<port>` (or https). */
  get url(): string {
    return this.origin;
  }

  /** The next `times` requests matching `injection` get its answer instead of the real one. */
  respondNext(injection: Injection, times = 1): void {
    for (let i = 0; i < times; i += 1) this.injections.push(injection);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  private async serve(handler: Handler, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = raw === '' ? undefined : raw;
    if (raw !== '' && /json/.test(request.headers['content-type'] ?? '')) {
      try {
        body = JSON.parse(raw) as unknown;
      } catch {
        body = raw;
      }
    }
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', this.origin);
    this.requests.push({
      at: performance.now(),
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      auth: authScheme(request.headers),
      body,
    });
    const index = this.injections.findIndex(
      (i) =>
        (i.method === undefined || i.method === method) &&
        (i.path === undefined || (typeof i.path === 'string' ? url.pathname.includes(i.path) : i.path.test(url.pathname))),
    );
    let answer: FakeResponse;
    if (index >= 0) {
      const [injected] = this.injections.splice(index, 1);
      answer = injected!;
      if (injected?.delayMs) await new Promise((resolve) => setTimeout(resolve, injected.delayMs));
      if (response.destroyed) return;
    } else {
      try {
        answer = handler({ method, url, headers: request.headers, body });
      } catch (error) {
        answer = { status: 500, body: { message: error instanceof Error ? error.message : String(error) } };
      }
    }
    const headers: Record<string, string> = { ...answer.headers };
    let payload: string | undefined;
    if (typeof answer.body === 'string') {
      payload = answer.body;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else if (answer.body !== undefined) {
      payload = JSON.stringify(answer.body);
      headers['content-type'] ??= 'application/json; charset=utf-8';
    }
    response.writeHead(answer.status, headers).end(payload);
  }
}

/** An RFC 8288 `Link` header from rel → URL. */
export function linkHeader(links: Record<string, string | undefined>): string | undefined {
  const parts = Object.entries(links)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([rel, url]) => `<${url}>; rel="${rel}"`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** `page` (1-based) of `items`, `perPage` at a time. */
export function pageOf<T>(items: readonly T[], page: number, perPage: number): { items: T[]; last: number } {
  const last = Math.max(1, Math.ceil(items.length / perPage));
  return { items: items.slice((page - 1) * perPage, page * perPage), last };
}

export function positiveInt(value: string | null, fallback: number): number {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : fallback;
}
