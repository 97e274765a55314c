/**
 * `startGateway` as `npm run gateway` and `scripts/start.ts` run it: listening on a real socket,
 * booting while Temporal is down, server timeouts, and graceful shutdown.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { signBody } from '../../gateway/hmac.js';
import type { Delivery, DeliveryReceipt, ReleaseStarter } from '../../gateway/release-starter.js';
import { startGateway } from '../../gateway/server.js';
import { type Config, loadConfig } from '../../config/config.js';
import { EXAMPLE_PIPELINES_DIR, PODINFO } from './helpers.js';
import { fixtureBody, FIXTURES } from '../support/events.js';
import { freePort } from '../support/free-port.js';
import { HMAC_KEY } from '../support/signing.js';

async function configWithTemporalDown(): Promise<Config> {
  return loadConfig({
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    BATON_HOST: '127.0.0.1',
    BATON_PORT: '0',
    BATON_PIPELINES_DIR: EXAMPLE_PIPELINES_DIR,
    BATON_SIGNAL_TIMEOUT: '1s',
    LOG_LEVEL: 'silent',
  });
}

const body = fixtureBody(FIXTURES.upgradeSucceeded);
const signedHeaders = { 'content-type': 'application/json', 'x-signature': signBody(body, HMAC_KEY) };

describe('startGateway', () => {
  it('boots and serves while Temporal is down: probes answer, events get 503 + Retry-After', async () => {
    const gateway = await startGateway(await configWithTemporalDown());
    try {
      assert.equal((await fetch(`${gateway.url}/healthz`)).status, 200);
      const ready = await fetch(`${gateway.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'not ready', checks: { temporal: 'unavailable', pipelines: 'ok' } });
      const event = await fetch(`${gateway.url}${PODINFO}/dev`, { method: 'POST', headers: signedHeaders, body });
      assert.equal(event.status, 503);
      assert.equal(event.headers.get('retry-after'), '30');
    } finally {
      await gateway.close();
    }
    await assert.rejects(fetch(`${gateway.url}/healthz`), 'closed: nothing listens any more');
  });

  it('sets the server timeouts', async () => {
    const gateway = await startGateway(await configWithTemporalDown());
    try {
      const { server } = gateway.app;
      assert.equal(server.requestTimeout, 30_000);
      assert.equal(server.keepAliveTimeout, 72_000);
      assert.equal(server.timeout, 60_000);
    } finally {
      await gateway.close();
    }
  });

  it('on close: finishes the request in flight, answers 503 + Connection: close to the next one', async () => {
    // Holds the first delivery until the test lets it go, so a request is in flight during close.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let delivering!: () => void;
    const started = new Promise<void>((resolve) => (delivering = resolve));
    const releases: ReleaseStarter = {
      async deliver(delivery: Delivery): Promise<DeliveryReceipt> {
        delivering();
        await gate;
        return { workflowId: `release/flux-system/podinfo-02/${delivery.version}`, runId: '00000000-0000-4000-8000-000000000000' };
      },
      deliverFailure: () => Promise.resolve(undefined),
      checkReachable: () => Promise.resolve(),
      drain: () => Promise.resolve(),
    };
    const gateway = await startGateway(await configWithTemporalDown(), { releases, logger: pino({ level: 'silent' }) });
    const { port } = new URL(gateway.url);

    // Two pipelined requests on one keep-alive connection: the second is read after the first answers.
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const request = [
      `POST ${PODINFO}/dev HTTP/1.1`,
      'Host: localhost',
      'Connection: keep-alive',
      'Content-Type: application/json',
      `X-Signature: ${signedHeaders['x-signature']}`,
      `Content-Length: ${body.length}`,
      '',
      body.toString('utf8'),
    ].join('\r\n');
    socket.write(request);
    await started;
    socket.write(request);

    const closing = gateway.close();
    while (gateway.app.server.listening) await sleep(10);
    release();
    await closing;
    await ended;

    const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [202, 503], received);
    const second = received.slice(received.lastIndexOf('HTTP/1.1 '));
    assert.match(second, /^connection: close\r$/im);
    assert.match(second, /^retry-after: 5\r$/im);
  });
});
