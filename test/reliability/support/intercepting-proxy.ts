/**
 * A reverse proxy in front of real servers and fakes, where a reliability test watches the
 * boundaries Baton crosses from the outside: each request can be held before it is forwarded, and
 * each answer held after the upstream gave it and before the client gets it. Nothing in Baton
 * knows it is there; the worker only sees another https server (the Secret's caFile trusts it).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate } from '../../infra/git-server.js';

export interface ProxiedRequest {
  method: string;
  /** Path and query as sent. */
  path: string;
  /** The request body as UTF-8 text (binary bodies, such as git packs, come out garbled). */
  body: string;
}

export interface ProxiedAnswer extends ProxiedRequest {
  status: number;
}

/**
 * What happens to a request: forwarded (after `beforeForward` resolves), answered by the proxy
 * itself, or dropped (the connection is destroyed, as by a server that went away).
 */
export type Verdict = { forward: true } | { answer: { status: number; body?: string; headers?: Record<string, string> } } | { drop: true };

export interface ProxyHooks {
  /** Runs when a request arrived, before anything reaches the upstream; the request waits for it. */
  beforeForward?(request: ProxiedRequest): Verdict | Promise<Verdict>;
  /** Runs once the upstream answered, before the client gets the answer; the answer waits for it. */
  beforeAnswer?(answer: ProxiedAnswer): void | Promise<void>;
}

export interface InterceptingProxy {
  /** `https://127.0.0.1:PORT` (or http), no trailing slash. */
  url: string;
  /** The PEM certificate to trust (https only). */
  certificate?: string;
  /** Every request seen, with the status the upstream or the proxy answered (0: dropped), whether or not the client got it. */
  log: (ProxiedAnswer & { forwarded: boolean })[];
  setHooks(hooks: ProxyHooks): void;
  close(): Promise<void>;
}

/** A fresh self-signed certificate for 127.0.0.1 (the git server helper's), read into memory. */
async function selfSigned(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-proxy-tls-'));
  try {
    const { key, cert } = await selfSignedCertificate(dir);
    return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  'host',
  'expect',
]);

function forwardedHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

async function readAll(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Starts the proxy on a free loopback port. `upstream(path)` names the origin a request goes to
 * (e.g. the provider fake for `/api/v3/…`, the git server otherwise).
 */
export async function startInterceptingProxy(options: { tls: boolean; upstream: (path: string) => string }): Promise<InterceptingProxy> {
  let hooks: ProxyHooks = {};
  const log: InterceptingProxy['log'] = [];

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readAll(request);
    const seen = { method: request.method ?? 'GET', path: request.url ?? '/', body: body.toString('utf8') };
    const entry = { ...seen, status: 0, forwarded: false };
    log.push(entry);
    const verdict = (await hooks.beforeForward?.(seen)) ?? { forward: true };
    if ('drop' in verdict) {
      response.socket?.destroy();
      return;
    }
    if ('answer' in verdict) {
      entry.status = verdict.answer.status;
      response.writeHead(verdict.answer.status, { 'content-type': 'text/plain', ...verdict.answer.headers }).end(verdict.answer.body ?? '');
      return;
    }
    entry.forwarded = true;
    const upstream = await fetch(`${options.upstream(seen.path)}${seen.path}`, {
      method: seen.method,
      headers: forwardedHeaders(request.headers),
      ...(body.length > 0 ? { body } : {}),
      redirect: 'manual',
    });
    const answer = Buffer.from(await upstream.arrayBuffer());
    entry.status = upstream.status;
    await hooks.beforeAnswer?.({ ...seen, status: upstream.status });
    if (response.destroyed) return;
    const headers: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      // fetch decoded the body already; its length is the one we send.
      if (!HOP_BY_HOP.has(name) && name !== 'content-encoding' && name !== 'content-length') headers[name] = value;
    });
    response.writeHead(upstream.status, headers).end(answer);
  }

  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    serve(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' }).end('proxy failed\n');
      else response.destroy();
    });
  };
  const tls = options.tls ? await selfSigned() : undefined;
  const server = tls ? createHttpsServer(tls, listener) : createHttpServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    ...(tls ? { certificate: tls.cert } : {}),
    log,
    setHooks(next) {
      hooks = next;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
