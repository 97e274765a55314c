/**
 * The git HTTP transport against servers that misbehave on purpose (a real git server never does):
 * redirects elsewhere, answers that never end or never come, hostile error text, packs that are
 * bombs. Small node:http servers on loopback play them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
// As a namespace: a build without one of these exports fails the tests that use it, not the file.
import * as transport from '../../../activities/git/http-transport.js';
import { redirectTarget } from '../../../activities/http/redirects.js';
import { DEFAULT_GIT_LIMITS } from '../../../activities/git/limits.js';
import { RefusedGitData } from '../../../activities/git/refused-git-data.js';
import { promoteInRepository, type PromoteInRepositoryInput } from '../../../activities/git/repository.js';
import { FailureType } from '../../../model/failures.js';
import { craftPack, oidOf, PACK_TYPE } from './crafted-pack.js';
import { applicationFailure } from '../../support/failure.js';

const MiB = 1024 * 1024;
const PASSWORD = 'git_P4SSW0RD_transport_9c1e';

interface Hostile {
  url: string;
  requests: { method: string; path: string; authorization?: string }[];
  close(): Promise<void>;
}

const servers: Server[] = [];

async function hostile(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<Hostile> {
  const requests: Hostile['requests'] = [];
  const server = createServer((request, response) => {
    requests.push({ method: request.method ?? 'GET', path: request.url ?? '/', authorization: request.headers.authorization });
    request.resume();
    handler(request, response);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function readAll(body: AsyncIterableIterator<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  if (body) for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function refusedAs(reason: RefusedGitData['reason']): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof RefusedGitData, `expected RefusedGitData, got ${String(error)}`);
    assert.equal(error.reason, reason);
    return true;
  };
}

describe('redirects', () => {
  test('one to another origin is refused, and that origin never hears from us', async () => {
    const elsewhere = await hostile((_, response) => response.end('credentials, thank you'));
    const origin = await hostile((_, response) =>
      response.writeHead(302, { location: `${elsewhere.url.replace('//', '//evil:t0ken@')}/steal?token=abc` }).end(),
    );
    const http = transport.createGitHttpClient();
    try {
      await assert.rejects(
        http.request({ url: `${origin.url}/repo.git/info/refs?service=git-receive-pack`, headers: { authorization: 'Basic c2VjcmV0' } }),
        (error: unknown) => {
          refusedAs('redirect')(error);
          const message = (error as Error).message;
          assert.match(message, /answered 302 redirecting to http:\/\/\*\*\*@127\.0\.0\.1:\d+\/steal, which is not followed/);
          assert.ok(!message.includes('t0ken') && !message.includes('abc'), message);
          return true;
        },
      );
      assert.equal(elsewhere.requests.length, 0);
      assert.ok(http.refusal instanceof RefusedGitData, 'the refusal is kept for the caller');
    } finally {
      http.close();
    }
  });

  test('one within the same origin is followed, credentials kept', async () => {
    const origin = await hostile((request, response) => {
      if (request.url === '/old.git/info/refs') response.writeHead(301, { location: '/new.git/info/refs' }).end();
      else response.end('moved here');
    });
    const http = transport.createGitHttpClient();
    try {
      const response = await http.request({ url: `${origin.url}/old.git/info/refs`, headers: { authorization: 'Basic c2VjcmV0' } });
      assert.equal(response.statusCode, 200);
      assert.equal((await readAll(response.body)).toString(), 'moved here');
      assert.deepEqual(
        origin.requests.map((r) => [r.path, r.authorization]),
        [
          ['/old.git/info/refs', 'Basic c2VjcmV0'],
          ['/new.git/info/refs', 'Basic c2VjcmV0'],
        ],
      );
    } finally {
      http.close();
    }
  });

  test('https never goes down to http, nor to another host or port', () => {
    const from = new URL('https://git.example.com/team/repo.git/info/refs');
    assert.equal(redirectTarget(from, 'http://git.example.com/team/repo.git/info/refs'), undefined);
    assert.equal(redirectTarget(from, 'https://git.example.com:8443/x'), undefined);
    assert.equal(redirectTarget(from, 'https://other.example.com/x'), undefined);
    assert.equal(redirectTarget(from, '/moved/repo.git/info/refs')?.href, 'https://git.example.com/moved/repo.git/info/refs');
  });
});

describe('bounded answers', () => {
  test('an answer that grows past the bound is refused while it streams in', async () => {
    let sent = 0;
    const server = await hostile((_, response) => {
      // Chunked, no length announced: 16 MiB in 64 KiB writes.
      const write = (): void => {
        while (sent < 16 * MiB) {
          sent += 64 * 1024;
          if (!response.write(Buffer.alloc(64 * 1024))) return void response.once('drain', write);
        }
        response.end();
      };
      write();
    });
    const http = transport.createGitHttpClient({ limits: { ...DEFAULT_GIT_LIMITS, maxResponseBytes: MiB } });
    try {
      const response = await http.request({ url: `${server.url}/repo.git/git-upload-pack`, method: 'POST' });
      await assert.rejects(readAll(response.body), (error: unknown) => {
        refusedAs('too-large')(error);
        assert.match((error as Error).message, /its answer is larger than 1 MiB/);
        return true;
      });
      assert.ok(http.refusal?.reason === 'too-large');
    } finally {
      http.close();
    }
  });

  test('an answer announced over the bound is refused before it is read', async () => {
    const server = await hostile((_, response) =>
      response.writeHead(200, { 'content-length': String(2 * MiB) }).end(Buffer.alloc(2 * MiB)),
    );
    const http = transport.createGitHttpClient({ limits: { ...DEFAULT_GIT_LIMITS, maxResponseBytes: MiB } });
    try {
      await assert.rejects(http.request({ url: `${server.url}/repo.git/info/refs` }), refusedAs('too-large'));
    } finally {
      http.close();
    }
  });
});

describe('timeouts', () => {
  const limits = { ...DEFAULT_GIT_LIMITS, connectTimeoutMs: 1000, idleTimeoutMs: 300, requestTimeoutMs: 1500 };

  test('a server that never answers is given up after the idle timeout', { timeout: 10_000 }, async () => {
    const silent = await hostile(() => undefined);
    const http = transport.createGitHttpClient({ limits });
    const started = Date.now();
    try {
      await assert.rejects(http.request({ url: `${silent.url}/repo.git/info/refs` }), (error: unknown) => {
        assert.ok(error instanceof transport.GitTimeoutError, String(error));
        assert.match(error.message, /^http:\/\/127\.0\.0\.1:\d+\/repo\.git\/info\/refs sent nothing for 0\.3 s$/);
        return true;
      });
      assert.ok(Date.now() - started < 3000);
    } finally {
      http.close();
    }
  });

  test('a connection that never completes is given up after the connect timeout', { timeout: 10_000 }, async () => {
    // A listener that stops accepting (a stopped process) and whose accept queue is full: the
    // kernel then drops further connection attempts, as a firewall that drops packets does.
    const listener = spawn(
      process.execPath,
      [
        '-e',
        "const s = require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port))",
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const fillers: Socket[] = [];
    const http = transport.createGitHttpClient({ limits: { ...limits, connectTimeoutMs: 500, idleTimeoutMs: 5000 } });
    try {
      const port = await new Promise<number>((resolve) => listener.stdout.once('data', (data) => resolve(Number(String(data).trim()))));
      listener.kill('SIGSTOP');
      for (let i = 0; i < 4; i++) {
        fillers.push(connect(port, '127.0.0.1').on('error', () => undefined));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await assert.rejects(http.request({ url: `http://127.0.0.1:${port}/repo.git/info/refs` }), (error: unknown) => {
        assert.ok(error instanceof transport.GitTimeoutError, String(error));
        assert.match(error.message, /^could not connect to http:\/\/127\.0\.0\.1:\d+\/repo\.git\/info\/refs within 0\.5 s$/);
        return true;
      });
    } finally {
      http.close();
      for (const socket of fillers) socket.destroy();
      listener.kill('SIGKILL');
    }
  });

  test('a server that trickles its answer is given up after the overall timeout', { timeout: 10_000 }, async () => {
    const trickle = await hostile((_, response) => {
      response.writeHead(200);
      const timer = setInterval(() => response.write('0'), 100);
      response.once('close', () => clearInterval(timer));
    });
    const http = transport.createGitHttpClient({ limits });
    try {
      const response = await http.request({ url: `${trickle.url}/repo.git/info/refs` });
      await assert.rejects(readAll(response.body), (error: unknown) => {
        assert.ok(error instanceof transport.GitTimeoutError, String(error));
        assert.match(error.message, /did not complete its answer within 1\.5 s/);
        return true;
      });
    } finally {
      http.close();
    }
  });
});

/** A ref advertisement for receive-pack (what discovery asks for) with `main` at `oid`. */
function advertisement(oid: string): Buffer {
  const pkt = (text: string): string => `${(Buffer.byteLength(text) + 4).toString(16).padStart(4, '0')}${text}`;
  return Buffer.from(`${pkt('# service=git-receive-pack\n')}0000${pkt(`${oid} refs/heads/main\0report-status\n`)}0000`);
}

/** A git server whose upload-pack answer is `answer` (already pkt-line framed). */
async function fakeGitServer(answer: () => Buffer, main = 'a'.repeat(40)): Promise<Hostile> {
  return hostile((request, response) => {
    if (request.url?.endsWith('/info/refs?service=git-receive-pack')) {
      response.writeHead(200, { 'content-type': 'application/x-git-receive-pack-advertisement' }).end(advertisement(main));
    } else if (request.url?.endsWith('/git-upload-pack')) {
      response.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result' }).end(answer());
    } else {
      response.writeHead(404).end();
    }
  });
}

function sideBand(pack: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from('0008NAK\n')];
  for (let at = 0; at < pack.length; at += 65000) {
    const chunk = pack.subarray(at, at + 65000);
    parts.push(Buffer.from((chunk.length + 5).toString(16).padStart(4, '0')), Buffer.from([1]), chunk);
  }
  parts.push(Buffer.from('0000'));
  return Buffer.concat(parts);
}

function input(url: string, overrides: Partial<PromoteInRepositoryInput> = {}): PromoteInRepositoryInput {
  return {
    url,
    baseBranch: 'main',
    branch: 'promotion-flux-system-podinfo-prod',
    credentials: { username: 'baton', password: PASSWORD },
    allowInsecureHttp: true,
    reference: 'flux-system:podinfo:prod',
    version: '6.7.1',
    message: 'Promote\n',
    ...overrides,
  };
}

describe('the git step against a hostile server', () => {
  test('a redirect elsewhere fails for good, naming the server by its redacted URL', async () => {
    const elsewhere = await hostile((_, response) => response.end());
    const origin = await hostile((_, response) => response.writeHead(307, { location: `${elsewhere.url}/x.git/info/refs` }).end());
    const error = await applicationFailure(promoteInRepository(input(`${origin.url.replace('//', '//user:url-secret@')}/repo.git`)));
    assert.equal(error.type, FailureType.gitServerAnswerRefused);
    assert.equal(error.nonRetryable, true);
    assert.ok(error.message.startsWith(`refusing the answer of the git server ${origin.url}/repo.git: `), error.message);
    assert.match(error.message, /redirecting to http:\/\/127\.0\.0\.1:\d+\/x\.git\/info\/refs, which is not followed/);
    assert.ok(!error.message.includes('url-secret'));
    assert.equal(elsewhere.requests.length, 0);
  });

  test('a pack over the object limit fails for good, naming the server', async () => {
    // 65 MiB of zeros, honestly declared: 65 KiB on the wire.
    const bomb = craftPack([{ type: PACK_TYPE.blob, data: Buffer.alloc(DEFAULT_GIT_LIMITS.maxObjectBytes + MiB) }]);
    const server = await fakeGitServer(() => sideBand(bomb));
    const error = await applicationFailure(promoteInRepository(input(`${server.url}/repo.git`)));
    assert.equal(error.type, FailureType.gitServerAnswerRefused);
    assert.equal(error.nonRetryable, true);
    assert.equal(
      error.message,
      `refusing the answer of the git server ${server.url}/repo.git: the object at byte 12 declares 65 MiB, over the 64 MiB limit of one git object`,
    );
  });

  test('a pack whose object inflates past its header fails for good', async () => {
    const blob = Buffer.alloc(8 * MiB);
    const bomb = craftPack([{ type: PACK_TYPE.blob, data: blob, declaredSize: 100 }]);
    const server = await fakeGitServer(() => sideBand(bomb), oidOf('blob', blob));
    const error = await applicationFailure(promoteInRepository(input(`${server.url}/repo.git`)));
    assert.equal(error.type, FailureType.gitServerAnswerRefused);
    assert.match(error.message, /inflates to more than the 100 bytes its header declares/);
  });

  test('trees that repeat a subtree at every level are refused, not listed for ever', async () => {
    const blob = Buffer.from('a: 1\n');
    const entry = (mode: string, name: string, oid: string): Buffer =>
      Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, 'hex')]);
    const trees = [entry('100644', 'a.yaml', oidOf('blob', blob))];
    // Each level names the one below twice: 13 trees of a few bytes, 4,096 paths.
    for (let level = 1; level <= 12; level++) {
      const below = oidOf('tree', trees.at(-1)!);
      trees.push(Buffer.concat([entry('40000', 'a', below), entry('40000', 'b', below)]));
    }
    const commit = Buffer.from(
      `tree ${oidOf('tree', trees.at(-1)!)}\nauthor a <a@example.test> 0 +0000\ncommitter a <a@example.test> 0 +0000\n\nbomb\n`,
    );
    const pack = craftPack([
      { type: PACK_TYPE.commit, data: commit },
      ...trees.map((data) => ({ type: PACK_TYPE.tree, data })),
      { type: PACK_TYPE.blob, data: blob },
    ]);
    const server = await fakeGitServer(() => sideBand(pack), oidOf('commit', commit));
    const error = await applicationFailure(promoteInRepository(input(`${server.url}/repo.git`, { limits: { maxTreeEntries: 1000 } })));
    assert.equal(error.type, FailureType.gitServerAnswerRefused);
    assert.equal(error.nonRetryable, true);
    assert.match(error.message, /: its trees list more than 1000 entries \(a subtree counts each time it appears\)$/);
  });

  test('error text from the server is quoted short, without control characters', async () => {
    const text = `ERR \u001b[31mdenied\u001b[0m\u0007 ${'x'.repeat(5000)}\n`;
    const server = await fakeGitServer(() =>
      Buffer.concat([Buffer.from((Buffer.byteLength(text) + 4).toString(16).padStart(4, '0')), Buffer.from(text)]),
    );
    const error = await promoteInRepository(input(`${server.url}/repo.git`)).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e as Error,
    );
    assert.match(error.message, /^git operation on http:\/\/127\.0\.0\.1:\d+\/repo\.git failed: git server: \[31mdenied \[0m x+…$/);
    assert.ok(!/[\u0000-\u001f]/.test(error.message), JSON.stringify(error.message.slice(0, 120)));
    assert.ok(error.message.length < 400, `${error.message.length} characters`);
  });
});
