/** `/healthz` and `/readyz` against a real Temporal dev server, a closed port, and an unsynced source. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { createTemporalReleaseStarter, type ReleaseStarter } from '../../gateway/release-starter.js';
import { loadConfig } from '../../config/config.js';
import { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { startDevServer } from '../infra/temporal.js';
import { closedPort, delivery, directorySource, EXAMPLE_PIPELINES_DIR, FIXTURES, fixture, PODINFO, testApp } from './helpers.js';

/** The configured defaults, as the gateway passes them into every release. */
const RELEASE_POLICY = loadConfig({}).releasePolicy;

let env: TestWorkflowEnvironment;
let pipelines: DirectoryPipelineSource;
let downConnection: Connection;
let up: ReleaseStarter;
let down: ReleaseStarter;

const options = { taskQueue: 'health-test', policy: RELEASE_POLICY, namespace: 'default', signalTimeoutMs: 2_000 };

before(async () => {
  env = await startDevServer();
  pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
  up = createTemporalReleaseStarter(env.client, options);
  downConnection = Connection.lazy({ address: `127.0.0.1:${await closedPort()}` });
  down = createTemporalReleaseStarter(new Client({ connection: downConnection, namespace: 'default' }), options);
});

after(async () => {
  await pipelines?.stop();
  await down?.drain(10_000);
  await downConnection?.close();
  await env?.teardown();
});

describe('probes', () => {
  it('/healthz answers 200 whatever the dependencies do', async () => {
    const app = await testApp({ pipelines, releases: down });
    try {
      const response = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { status: 'ok' });
    } finally {
      await app.close();
    }
  });

  it('/readyz is 200 when Temporal answers and the Pipelines are loaded', async () => {
    const app = await testApp({ pipelines, releases: up });
    try {
      const response = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), { status: 'ready', checks: { temporal: 'ok', pipelines: 'ok' } });
    } finally {
      await app.close();
    }
  });

  it('/readyz is 503 when Temporal cannot be reached', async () => {
    const app = await testApp({ pipelines, releases: down });
    try {
      const response = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(response.statusCode, 503);
      assert.deepEqual(response.json(), { status: 'not ready', checks: { temporal: 'unavailable', pipelines: 'ok' } });
    } finally {
      await app.close();
    }
  });

  it('/readyz is 503 until the Pipeline source has synced; events meanwhile get 503, not 404', async () => {
    const unsynced = new DirectoryPipelineSource(EXAMPLE_PIPELINES_DIR, pino({ level: 'silent' }));
    const app = await testApp({ pipelines: unsynced, releases: up });
    try {
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(ready.json(), { status: 'not ready', checks: { temporal: 'ok', pipelines: 'not synced' } });
      const event = await app.inject(delivery(`${PODINFO}/dev`, fixture(FIXTURES.upgradeSucceeded)));
      assert.equal(event.statusCode, 503);
      assert.equal(event.headers['retry-after'], '30');
    } finally {
      await app.close();
    }
  });
});
