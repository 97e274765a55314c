/**
 * Rate limits: per client for unauthenticated requests (401s, 404s, 405s, 413s, 415s), 429 +
 * Retry-After; per Pipeline for signed deliveries, which unauthenticated traffic never starves;
 * `X-Forwarded-For` believed only from trusted proxies; IPv6 keyed by /64.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { GatewayAppConfig } from '../../gateway/app.js';
import { PIPELINE_ALLOWANCE_FACTOR } from '../../gateway/rate-limits.js';
import type { Delivery, DeliveryReceipt, ReleaseStarter } from '../../gateway/release-starter.js';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { delivery, directorySource, EXAMPLE_PIPELINES_DIR, metricValue, PODINFO, testApp, unreachableStarter } from './helpers.js';
import { fixtureBody, FIXTURES } from '../support/events.js';

const MAX = 3;
let pipelines: DirectoryPipelineSource;
const apps: FastifyInstance[] = [];

before(async () => {
  pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
});

after(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await pipelines.stop();
});

async function limitedApp(config: Partial<GatewayAppConfig> = {}): Promise<FastifyInstance> {
  const app = await testApp({
    pipelines,
    releases: unreachableStarter(),
    config: { rateLimit: { max: MAX, windowMs: 30_000 }, ...config },
  });
  apps.push(app);
  return app;
}

/** Sends `request` `times` times and returns the status codes. */
async function statuses(app: FastifyInstance, request: InjectOptions, times: number): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < times; i++) codes.push((await app.inject(request)).statusCode);
  return codes;
}

const unsigned: InjectOptions = {
  ...delivery(`${PODINFO}/dev`, fixtureBody(FIXTURES.upgradeSucceeded), { key: 'wrong-key' }),
  remoteAddress: '198.51.100.1',
};

describe('rate limit: 429 + Retry-After once a client used its allowance', () => {
  it('on the webhook, for requests that fail authentication', async () => {
    const app = await limitedApp();
    assert.deepEqual(await statuses(app, unsigned, MAX), [401, 401, 401]);
    const limited = await app.inject(unsigned);
    assert.equal(limited.statusCode, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 30, `Retry-After: ${limited.headers['retry-after']}`);
    assert.deepEqual(Object.keys(limited.json()).sort(), ['error', 'message', 'statusCode']);
    // Without a signature it is refused before the body is read.
    const bare = await app.inject({ ...unsigned, headers: { 'content-type': 'application/json' } });
    assert.equal(bare.statusCode, 429);
    assert.equal(metricValue((await app.inject({ method: 'GET', url: '/metrics' })).body, 'baton_gateway_rate_limited_requests_total'), 2);
  });

  it('on refusals before authentication (415, 413)', async () => {
    const app = await limitedApp();
    const from = { remoteAddress: '198.51.100.5' };
    const text: InjectOptions = { method: 'POST', url: `${PODINFO}/dev`, headers: { 'content-type': 'text/plain' }, payload: 'x', ...from };
    assert.deepEqual(await statuses(app, text, MAX + 1), [415, 415, 415, 429]);
  });

  it('on 404s (unknown paths and unknown Pipelines), sharing the client’s one allowance', async () => {
    const app = await limitedApp();
    const from = { remoteAddress: '198.51.100.2' };
    assert.equal((await app.inject({ method: 'POST', url: '/nothing-here', ...from })).statusCode, 404);
    assert.equal((await app.inject({ method: 'POST', url: '/promotion/a/b', ...from })).statusCode, 404);
    assert.equal((await app.inject({ method: 'POST', url: '/promotion/flux-system/unknown/dev', ...from })).statusCode, 404);
    const limited = await app.inject({ method: 'GET', url: '/robots.txt', ...from });
    assert.equal(limited.statusCode, 429);
    assert.ok(limited.headers['retry-after']);
  });

  it('on 405s', async () => {
    const app = await limitedApp();
    const get: InjectOptions = { method: 'GET', url: `${PODINFO}/dev`, remoteAddress: '198.51.100.3' };
    assert.deepEqual(await statuses(app, get, MAX + 1), [405, 405, 405, 429]);
  });

  it('not on probes and metrics', async () => {
    const app = await limitedApp();
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      assert.deepEqual(await statuses(app, { method: 'GET', url, remoteAddress: '198.51.100.4' }, MAX + 2), Array(MAX + 2).fill(200));
    }
  });

  it('clients have their own buckets', async () => {
    const app = await limitedApp();
    assert.equal((await statuses(app, unsigned, MAX + 1)).at(-1), 429);
    assert.equal((await app.inject({ ...unsigned, remoteAddress: '198.51.100.99' })).statusCode, 401);
  });
});

describe('X-Forwarded-For', () => {
  it('is ignored from a socket that is not a trusted proxy (a client cannot pick its bucket)', async () => {
    const app = await limitedApp({ trustedProxies: ['10.0.0.0/8'] });
    const codes: number[] = [];
    for (let i = 0; i <= MAX; i++) {
      const response = await app.inject({
        ...unsigned,
        remoteAddress: '203.0.113.7',
        headers: { ...unsigned.headers, 'x-forwarded-for': `192.0.2.${i}` },
      });
      codes.push(response.statusCode);
    }
    assert.deepEqual(codes, [401, 401, 401, 429]);
  });

  it('is ignored when no proxy is trusted, even from a private address', async () => {
    const app = await limitedApp();
    const codes: number[] = [];
    for (let i = 0; i <= MAX; i++) {
      const response = await app.inject({
        ...unsigned,
        remoteAddress: '10.1.2.3',
        headers: { ...unsigned.headers, 'x-forwarded-for': `192.0.2.${i}` },
      });
      codes.push(response.statusCode);
    }
    assert.deepEqual(codes, [401, 401, 401, 429]);
  });

  it('is honoured from a trusted proxy: each forwarded client has its own bucket', async () => {
    const app = await limitedApp({ trustedProxies: ['10.0.0.0/8'] });
    const via = (client: string): InjectOptions => ({
      ...unsigned,
      remoteAddress: '10.1.2.3',
      headers: { ...unsigned.headers, 'x-forwarded-for': client },
    });
    assert.deepEqual(await statuses(app, via('192.0.2.10'), MAX + 1), [401, 401, 401, 429]);
    assert.equal((await app.inject(via('192.0.2.11'))).statusCode, 401);
  });

  it('from a trusted proxy, only the hop the proxy appended counts (a spoofed left part does not)', async () => {
    const app = await limitedApp({ trustedProxies: ['10.0.0.0/8'] });
    const codes: number[] = [];
    for (let i = 0; i <= MAX; i++) {
      const response = await app.inject({
        ...unsigned,
        remoteAddress: '10.1.2.3',
        headers: { ...unsigned.headers, 'x-forwarded-for': `192.0.2.${100 + i}, 198.51.100.50` },
      });
      codes.push(response.statusCode);
    }
    assert.deepEqual(codes, [401, 401, 401, 429]);
  });
});

describe('IPv6 clients', () => {
  it('addresses in one /64 share a bucket; another /64 has its own', async () => {
    const app = await limitedApp();
    const from = (remoteAddress: string): InjectOptions => ({ ...unsigned, remoteAddress });
    assert.equal((await app.inject(from('2001:db8:1:2::1'))).statusCode, 401);
    assert.equal((await app.inject(from('2001:db8:1:2::2'))).statusCode, 401);
    assert.equal((await app.inject(from('2001:db8:1:2:aaaa:bbbb:cccc:dddd'))).statusCode, 401);
    assert.equal((await app.inject(from('2001:db8:1:2::ffff'))).statusCode, 429);
    assert.equal((await app.inject(from('2001:db8:1:3::1'))).statusCode, 401);
  });

  it('an IPv4-mapped address is the IPv4 client', async () => {
    const app = await limitedApp();
    const from = (remoteAddress: string): InjectOptions => ({ ...unsigned, remoteAddress });
    assert.equal((await app.inject(from('192.0.2.200'))).statusCode, 401);
    assert.equal((await app.inject(from('::ffff:192.0.2.200'))).statusCode, 401);
    assert.equal((await app.inject(from('192.0.2.200'))).statusCode, 401);
    assert.equal((await app.inject(from('::ffff:192.0.2.200'))).statusCode, 429);
  });
});

/** A starter that accepts every delivery without Temporal. */
function acceptingStarter(): ReleaseStarter & { calls: number } {
  const starter = {
    calls: 0,
    deliver(delivery: Delivery): Promise<DeliveryReceipt> {
      starter.calls += 1;
      return Promise.resolve({ workflowId: `release/flux-system/podinfo-02/${delivery.version}`, runId: 'run' });
    },
    deliverFailure: () => Promise.resolve(undefined),
    checkReachable: () => Promise.resolve(),
    drain: () => Promise.resolve(),
  };
  return starter;
}

describe('unauthenticated traffic cannot starve signed deliveries', () => {
  const signed = (remoteAddress: string): InjectOptions => ({
    ...delivery(`${PODINFO}/dev`, fixtureBody(FIXTURES.upgradeSucceeded)),
    remoteAddress,
  });

  it('a flood from the address Flux shares (an ingress) does not make a signed delivery 429', async () => {
    const releases = acceptingStarter();
    const app = await testApp({ pipelines, releases, config: { rateLimit: { max: MAX, windowMs: 30_000 } } });
    apps.push(app);
    const ingress = '10.0.0.1';
    const flood: InjectOptions[] = [
      { ...unsigned, remoteAddress: ingress },
      { ...unsigned, headers: { 'content-type': 'application/json' }, remoteAddress: ingress },
      { method: 'POST', url: '/promotion/flux-system/unknown/dev', remoteAddress: ingress },
      { method: 'GET', url: '/nothing-here', remoteAddress: ingress },
    ];
    const codes: number[] = [];
    for (let i = 0; i < 5 * MAX; i++) codes.push((await app.inject(flood[i % flood.length] as InjectOptions)).statusCode);
    assert.ok(codes.includes(429), `the flood itself is limited: ${codes.join(',')}`);
    const response = await app.inject(signed(ingress));
    assert.equal(response.statusCode, 202, response.body);
    assert.equal(releases.calls, 1);
  });

  it('signed deliveries have an allowance per Pipeline, larger than a client’s', async () => {
    const releases = acceptingStarter();
    const app = await testApp({ pipelines, releases, config: { rateLimit: { max: MAX, windowMs: 30_000 } } });
    apps.push(app);
    const allowance = MAX * PIPELINE_ALLOWANCE_FACTOR;
    const codes = await statuses(app, signed('192.0.2.77'), allowance + 1);
    assert.deepEqual(codes, [...Array<number>(allowance).fill(202), 429]);
    // Another client cannot get past it either: the bucket is the Pipeline's.
    assert.equal((await app.inject(signed('192.0.2.78'))).statusCode, 429);
    // A failing request of another client is counted in its own bucket, not the Pipeline's.
    assert.equal((await app.inject({ ...unsigned, remoteAddress: '192.0.2.79' })).statusCode, 401);
  });
});
