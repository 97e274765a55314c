/**
 * A real git server for tests and benchmarks: Debian git's `git http-backend` (smart
 * HTTP, which isomorphic-git and the git CLI both speak) behind a small Node HTTP bridge that adds
 * basic auth, optionally TLS, and records every request. Repositories are bare repos in a temp dir,
 * seeded and inspected with the git CLI, so what a test asserts is what git itself sees.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';

const run = promisify(execFile);
/** Seeding a 10,000-file repository prints a lot; the default 1 MB buffer is not enough. */
const MAX_GIT_OUTPUT = 256 * 1024 * 1024;
const REALM = 'baton-test-git';

export interface GitCredentials {
  username: string;
  password: string;
}

export interface RecordedGitRequest {
  method: string;
  /** Path and query, e.g. `/podinfo.git/info/refs?service=git-upload-pack`. */
  path: string;
  status: number;
}

/** Runs before the bridge hands a request to git; the request waits until it resolves. */
export type GitRequestHook = (request: { method: string; path: string }) => void | Promise<void>;

export interface GitServerOptions {
  /** Defaults to `baton` and a random password. */
  credentials?: GitCredentials;
  /** Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (`caFile` names it). */
  tls?: boolean;
  /**
   * Hands requests under `pathPrefix` to a provider API fake at `origin` (plain http on loopback),
   * as a GitHub Enterprise Server serves its API (`/api/v3`) on the host git is on: the API root
   * Baton derives from a repository URL then reaches the fake.
   */
  api?: { pathPrefix: string; origin: string };
}

export interface SeedOptions {
  /** The branch the seed commit goes to (default `main`), also the repository's HEAD. */
  branch?: string;
  message?: string;
}

export interface GitServer {
  /** `http://127.0.0.1:PORT` (or https with `tls`), without a trailing slash. */
  baseUrl: string;
  credentials: GitCredentials;
  /** The PEM file clients must trust when `tls` is on. */
  caFile?: string;
  /** Every request the bridge answered, in order. */
  requests: RecordedGitRequest[];
  /** Holds requests back (e.g. a push) so a test can change the repository in between; undefined removes it. */
  setRequestHook(hook: GitRequestHook | undefined): void;
  /** Creates the bare repository `<name>.git` whose first commit holds `seedDir`'s files; returns its URL. */
  createRepository(name: string, seedDir: string, options?: SeedOptions): Promise<string>;
  repositoryUrl(name: string): string;
  /** Runs the git CLI in the bare repository and returns its stdout. */
  git(name: string, args: string[]): Promise<string>;
  /** The commit a branch points at, or undefined when the branch does not exist. */
  branchCommit(name: string, branch: string): Promise<string | undefined>;
  /** Every file of a branch's tip, by path. */
  readBranch(name: string, branch: string): Promise<Map<string, Buffer>>;
  /** Commits `files` (path → content, added or replaced) on top of `branch` and moves it: "base moved on". */
  commitToBranch(name: string, branch: string, files: Record<string, string>, message?: string): Promise<string>;
  close(): Promise<void>;
}

function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return run('git', args, { cwd, maxBuffer: MAX_GIT_OUTPUT, env: { ...process.env, ...env } }).then((r) => r.stdout);
}

/** A fixed identity and no user configuration, so seeds are the same on every machine. */
function isolatedGitEnv(home: string): NodeJS.ProcessEnv {
  return {
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Test Seeder',
    GIT_AUTHOR_EMAIL: 'seeder@example.test',
    GIT_COMMITTER_NAME: 'Test Seeder',
    GIT_COMMITTER_EMAIL: 'seeder@example.test',
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function authenticatedUser(request: IncomingMessage, credentials: GitCredentials): string | undefined {
  const header = request.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const [user, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  return sameSecret(user, credentials.username) && sameSecret(password, credentials.password) ? user : undefined;
}

/** The CGI environment `git http-backend` reads (gitweb-style variables from RFC 3875). */
function cgiEnvironment(request: IncomingMessage, projectRoot: string, user: string): NodeJS.ProcessEnv {
  const url = new URL(request.url ?? '/', 'http://bridge');
  return {
    PATH: process.env.PATH,
    HOME: projectRoot,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_PROJECT_ROOT: projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REQUEST_METHOD: request.method ?? 'GET',
    CONTENT_TYPE: request.headers['content-type'] ?? '',
    REMOTE_USER: user,
    REMOTE_ADDR: request.socket.remoteAddress ?? '127.0.0.1',
    // Protocol v2 is negotiated through this header; http-backend reads it from the environment.
    ...(request.headers['git-protocol'] ? { GIT_PROTOCOL: String(request.headers['git-protocol']) } : {}),
  };
}

/**
 * Streams the CGI response: headers up to the first blank line (a `Status:` header sets the HTTP
 * status), the rest is the body. Resolves with the status sent.
 */
function relayCgiOutput(child: ChildProcess, response: ServerResponse): Promise<number> {
  return new Promise((resolve) => {
    let head = Buffer.alloc(0);
    let status = 0;
    const onData = (chunk: Buffer): void => {
      if (status !== 0) {
        response.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      const endLf = end < 0 ? head.indexOf('\n\n') : -1;
      if (end < 0 && endLf < 0) return;
      const [headerEnd, separator] = end >= 0 ? [end, 4] : [endLf, 2];
      status = writeCgiHead(head.subarray(0, headerEnd).toString('latin1'), response);
      response.write(head.subarray(headerEnd + separator));
    };
    child.stdout?.on('data', onData);
    child.once('close', () => {
      if (status === 0) {
        status = 500;
        response.writeHead(500, { 'content-type': 'text/plain' }).write('git http-backend produced no response\n');
      }
      response.end();
      resolve(status);
    });
  });
}

function writeCgiHead(text: string, response: ServerResponse): number {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const [name, value] = [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  response.writeHead(status, headers);
  return status;
}

interface Bridge {
  hook?: GitRequestHook;
  api?: { pathPrefix: string; origin: string };
  projectRoot: string;
  credentials: GitCredentials;
  requests: RecordedGitRequest[];
  children: Set<ChildProcess>;
}

/** Relays a request to the API fake and its answer back, unchanged. */
function forward(origin: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const upstream = httpRequest(new URL(request.url ?? '/', origin), { method: request.method, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
      answer.once('end', () => resolve());
      answer.once('error', reject);
    });
    upstream.once('error', reject);
    request.pipe(upstream);
  });
}

async function handle(bridge: Bridge, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (bridge.api !== undefined && (request.url ?? '/').startsWith(bridge.api.pathPrefix)) {
    await forward(bridge.api.origin, request, response);
    return;
  }
  const record = (status: number): void => {
    bridge.requests.push({ method: request.method ?? 'GET', path: request.url ?? '/', status });
  };
  const user = authenticatedUser(request, bridge.credentials);
  if (user === undefined) {
    request.resume();
    response
      .writeHead(401, { 'www-authenticate': `Basic realm="${REALM}"`, 'content-type': 'text/plain' })
      .end('authentication required\n');
    record(401);
    return;
  }
  await bridge.hook?.({ method: request.method ?? 'GET', path: request.url ?? '/' });
  const child = spawn('git', ['http-backend'], {
    env: cgiEnvironment(request, bridge.projectRoot, user),
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  bridge.children.add(child);
  child.once('close', () => bridge.children.delete(child));
  // Clients may gzip request bodies (the git CLI does for large negotiations); http-backend reads plain bytes here.
  const body = request.headers['content-encoding'] === 'gzip' ? request.pipe(createGunzip()) : request;
  body.on('error', () => child.kill());
  child.stdin.on('error', () => undefined);
  body.pipe(child.stdin);
  record(await relayCgiOutput(child, response));
}

/** A self-signed certificate for 127.0.0.1, written into `dir`: the paths of its key and certificate. */
export async function selfSignedCertificate(dir: string): Promise<{ key: string; cert: string }> {
  const key = join(dir, 'tls.key');
  const cert = join(dir, 'tls.crt');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { key, cert };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

async function seedRepository(bare: string, seedDir: string, work: string, home: string, options: SeedOptions): Promise<void> {
  const branch = options.branch ?? 'main';
  const env = isolatedGitEnv(home);
  await cp(seedDir, work, { recursive: true });
  await git(work, ['init', '--quiet', '--initial-branch', branch], env);
  await git(work, ['add', '--all'], env);
  await git(work, ['commit', '--quiet', '--no-verify', '--message', options.message ?? 'Seed'], env);
  // Names may have several segments (`group/sub/repo`, `scm/KEY/repo`), as on GitLab and Bitbucket.
  await mkdir(dirname(bare), { recursive: true });
  await git(dirname(bare), ['clone', '--quiet', '--bare', work, bare], env);
  await git(bare, ['remote', 'remove', 'origin'], env);
  // A hosted repository is packed; serving loose objects would make every clone recompute deltas.
  await git(bare, ['repack', '-a', '-d', '-q'], env);
  await rm(work, { recursive: true, force: true });
}

/** Starts the bridge on a free loopback port; `close()` stops it and removes every repository. */
export async function startGitServer(options: GitServerOptions = {}): Promise<GitServer> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-git-'));
  const projectRoot = join(dir, 'repos');
  const scratch = join(dir, 'scratch');
  await mkdir(projectRoot);
  await mkdir(scratch);
  const credentials = options.credentials ?? { username: 'baton', password: randomBytes(12).toString('hex') };
  const bridge: Bridge = { projectRoot, credentials, requests: [], children: new Set(), ...(options.api ? { api: options.api } : {}) };
  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    // A failing hook or a dead git process must show up as an answer, not as an unhandled rejection.
    handle(bridge, request, response).catch(() => {
      if (response.headersSent) response.destroy();
      else response.writeHead(500, { 'content-type': 'text/plain' }).end('git bridge failed\n');
    });
  };
  const tls = options.tls ? await selfSignedCertificate(dir) : undefined;
  const server = tls
    ? createHttpsServer({ key: await readFile(tls.key, 'utf8'), cert: await readFile(tls.cert, 'utf8') }, listener)
    : createHttpServer(listener);
  const port = await listen(server);
  const baseUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const env = isolatedGitEnv(scratch);
  const bare = (name: string): string => join(projectRoot, `${name}.git`);
  let scratchSeq = 0;
  const scratchDir = (): string => join(scratch, String(++scratchSeq));

  const branchCommit = async (name: string, branch: string): Promise<string | undefined> => {
    const out = await git(bare(name), ['for-each-ref', '--format=%(objectname)', `refs/heads/${branch}`], env);
    return out.trim() || undefined;
  };

  return {
    baseUrl,
    credentials,
    ...(tls ? { caFile: tls.cert } : {}),
    requests: bridge.requests,
    setRequestHook(hook) {
      bridge.hook = hook;
    },
    async createRepository(name, seedDir, seedOptions = {}) {
      await seedRepository(bare(name), seedDir, scratchDir(), scratch, seedOptions);
      return `${baseUrl}/${name}.git`;
    },
    repositoryUrl: (name) => `${baseUrl}/${name}.git`,
    git: (name, args) => git(bare(name), args, env),
    branchCommit,
    async readBranch(name, branch) {
      const listing = await git(bare(name), ['ls-tree', '-r', '-z', '--format=%(objectname) %(path)', `refs/heads/${branch}`], env);
      const files = new Map<string, Buffer>();
      for (const entry of listing.split('\0').filter(Boolean)) {
        const space = entry.indexOf(' ');
        const blob = await run('git', ['cat-file', 'blob', entry.slice(0, space)], {
          cwd: bare(name),
          encoding: 'buffer',
          maxBuffer: MAX_GIT_OUTPUT,
          env: { ...process.env, ...env },
        });
        files.set(entry.slice(space + 1), blob.stdout);
      }
      return files;
    },
    async commitToBranch(name, branch, files, message = 'Base moved on') {
      const work = scratchDir();
      await git(scratch, ['clone', '--quiet', '--branch', branch, bare(name), work], env);
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(work, path)), { recursive: true });
        await writeFile(join(work, path), content);
      }
      await git(work, ['add', '--all'], env);
      await git(work, ['commit', '--quiet', '--no-verify', '--message', message], env);
      await git(work, ['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], env);
      await rm(work, { recursive: true, force: true });
      return (await branchCommit(name, branch))!;
    },
    async close() {
      for (const child of bridge.children) child.kill('SIGKILL');
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
