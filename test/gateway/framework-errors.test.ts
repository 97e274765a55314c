/**
 * fastify's own answers to URLs it cannot route (malformed percent-encoding: 400; a path parameter
 * over the maximum: 414) go through Baton's error handling: escaped, rate limited, logged, counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { captureLogs, directorySource, EXAMPLE_PIPELINES_DIR, metricValue, testApp, unreachableStarter } from './helpers.js';

const MAX = 3;
const BAD_URL = '/promotion/%E0%A4%A/<script>alert(1)</script>/dev';
const LONG_URL = `/approval/flux-system/podinfo-02/prod/${'1'.repeat(2000)}`;

let pipelines: DirectoryPipelineSource;
let app: FastifyInstance;
const logs = captureLogs();

before(async () => {
  pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
  app = await testApp({
    pipelines,
    releases: unreachableStarter(),
    logger: logs.logger,
    config: { rateLimit: { max: MAX, windowMs: 30_000 } },
  });
});

after(async () => {
  await app.close();
  await pipelines.stop();
});

describe("fastify's routing errors", () => {
  it('malformed percent-encoding → 400 in the usual error body, quoting nothing of the path', async () => {
    const response = await app.inject({ method: 'POST', url: BAD_URL, remoteAddress: '198.51.100.10' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), {
      statusCode: 400,
      error: 'Bad Request',
      message: 'the URL is malformed (invalid percent-encoding)',
    });
    assert.ok(!response.body.includes('<script>'));
  });

  it('a path parameter that is too long → 414 URI Too Long, quoting nothing of the path', async () => {
    const response = await app.inject({ method: 'POST', url: LONG_URL, remoteAddress: '198.51.100.11' });
    assert.equal(response.statusCode, 414);
    const body = response.json<{ error: string; message: string }>();
    assert.equal(body.error, 'URI Too Long');
    assert.match(body.message, /a path segment is longer than \d+ characters/);
    assert.ok(!response.body.includes('1111111111'));
  });

  it('are rate limited per client with the other unauthenticated requests', async () => {
    const from = { remoteAddress: '198.51.100.12' };
    const codes: number[] = [];
    for (const url of [BAD_URL, LONG_URL, '/nothing-here', BAD_URL, LONG_URL])
      codes.push((await app.inject({ method: 'POST', url, ...from })).statusCode);
    assert.deepEqual(codes, [400, 414, 404, 429, 429]);
  });

  it('are logged and counted in the metrics', async () => {
    await app.inject({ method: 'POST', url: BAD_URL, remoteAddress: '198.51.100.13' });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.ok(
      (metricValue(metrics, 'baton_gateway_http_requests_total{route="unmatched",method="POST",status_code="400"}') ?? 0) >= 1,
      metrics,
    );
    assert.ok(
      (metricValue(metrics, 'baton_gateway_http_requests_total{route="unmatched",method="POST",status_code="414"}') ?? 0) >= 1,
      metrics,
    );
    const refused = logs.lines().filter((line) => line.msg === 'request refused' && line.statusCode === 400);
    assert.ok(refused.length >= 1, logs.text());
  });

  it('a real socket gets the same 414', async () => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const response = await fetch(`${address}${LONG_URL}`, { method: 'POST' });
    assert.equal(response.status, 414);
    assert.equal(((await response.json()) as { error: string }).error, 'URI Too Long');
  });
});
