/**
 * Temporal down while signed Flux events arrive: a dev server persisting to a SQLite file is
 * stopped and started again on the same port. Meanwhile the gateway answers 503 with Retry-After
 * and `/readyz` fails; a sender retrying (as Flux does) gets every event in once Temporal is back,
 * and each release holds its event exactly once. The worker is a real process that lives through
 * the outage.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { loadConfig } from '../../config/config.js';
import { type RunningGateway, startGateway } from '../../gateway/server.js';
import { deployedSignal, stateQuery } from '../../model/messages.js';
import { startDevServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { examplePipelinesWithOpenWindows } from '../support/example-pipelines.js';
import { freePort } from '../support/free-port.js';
import { type CrashableWorker, startCrashableWorker } from './support/crashable-worker.js';
import { type Delivered, sendUntilAccepted } from './support/flux-sender.js';

describe('Temporal stopped and restarted (same database, same port) while events arrive', () => {
  let dir: string;
  let port: number;
  let server: TestWorkflowEnvironment | undefined;
  let connection: Connection;
  let client: Client;
  let gateway: RunningGateway;
  let worker: CrashableWorker;
  let examples: { path: string; remove: () => Promise<void> };
  const taskQueue = `reliability-temporal-outage-${process.pid}`;

  const startServer = async (): Promise<void> => {
    server = await startDevServer({ dbFilename: join(dir, 'temporal.db'), port });
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-temporal-outage-'));
    port = await freePort();
    await startServer();
    // Our own connections: the environment's close with the server it started.
    connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    client = new Client({ connection });
    examples = await examplePipelinesWithOpenWindows();
    const config = loadConfig({
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      BATON_TASK_QUEUE: taskQueue,
      BATON_HOST: '127.0.0.1',
      BATON_PORT: '0',
      BATON_PIPELINES_DIR: examples.path,
      BATON_SIGNAL_TIMEOUT: '2s',
      // The sender retries four times a second; the per-Pipeline limit is not what is tested here.
      BATON_RATE_LIMIT_MAX: '100000',
      LOG_LEVEL: 'silent',
    });
    gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
    worker = await startCrashableWorker({
      client,
      temporalAddress: `127.0.0.1:${port}`,
      taskQueue,
      env: { BATON_PIPELINES_DIR: examples.path },
    });
  });

  after(async () => {
    await gateway?.close();
    await worker?.stop();
    await connection?.close();
    await server?.teardown();
    await examples?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('503 + Retry-After and /readyz failing while it is down; afterwards every event is in its release, once', async (t) => {
    const before = await Promise.all(['7.0.1', '7.0.2'].map((version) => sendUntilAccepted(() => gateway.url, version)));
    assert.deepEqual(
      before.map((d) => d.attempts.length),
      [1, 1],
    );

    const stoppedAt = Date.now();
    await server!.teardown();
    server = undefined;
    const ready = await fetch(`${gateway.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'not ready', checks: { temporal: 'unavailable', pipelines: 'ok' } });

    // Events arriving during the outage: refused with 503 and Retry-After, then sent again.
    const during = ['7.0.3', '7.0.4', '7.0.5', '7.0.6'].map((version) => sendUntilAccepted(() => gateway.url, version));
    // The outage lasts a few seconds: each sender is refused, waits, and tries again meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    assert.equal((await fetch(`${gateway.url}/readyz`)).status, 503, 'still not ready');
    await startServer();
    const restartedAt = Date.now();
    const delivered: Delivered[] = await Promise.all(during);
    const recoveredAt = Date.now();
    assert.equal((await fetch(`${gateway.url}/readyz`)).status, 200);

    for (const { version, attempts } of delivered) {
      const refusals = attempts.slice(0, -1);
      assert.ok(refusals.length > 0, `${version} was refused while Temporal was down`);
      for (const refusal of refusals) {
        assert.equal(refusal.status, 503, `${version}: ${JSON.stringify(attempts)}`);
        assert.equal(refusal.retryAfter, '30');
        assert.match(
          refusal.message ?? '',
          /^Temporal is unavailable or did not answer in time, the event may not be recorded; retry later/,
        );
      }
    }

    // None lost, none doubled: each release holds its dev event once and promoted into test once. A
    // refusal that came from a timeout may have been carried out all the same (the server was
    // starting): its delivery is then in the history twice, and the release counted the second as a
    // repeat.
    const signalsPerEvent: number[] = [];
    for (const { version, answer } of [...before, ...delivered]) {
      const handle = client.workflow.getHandle(answer.workflowId);
      assert.equal(answer.workflowId, `release/flux-system/podinfo-02/${version}`);
      await eventually(`${version} promoted into test`, async () => {
        const current = await handle.query(stateQuery);
        return current.promotions.some((p) => p.targetEnvironment === 'test' && p.completedAt !== undefined);
      });
      const history = await handle.fetchHistory();
      const signals = (history.events ?? []).filter(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === deployedSignal.name,
      ).length;
      signalsPerEvent.push(signals);
      const state = await eventually(`${version} to have handled every delivery`, async () => {
        const current = await handle.query(stateQuery);
        return current.reached[0]?.repeats === signals - 1 && current;
      });
      assert.deepEqual(
        state.reached.map((r) => r.environment),
        ['dev'],
        version,
      );
      assert.equal(state.promotions.length, 1, version);
    }
    t.diagnostic(
      `outage ${restartedAt - stoppedAt} ms; recovered ${recoveredAt - restartedAt} ms after the restart; ` +
        `attempts per event during the outage: ${delivered.map((d) => d.attempts.length).join(',')}; ` +
        `deliveries in each history: ${signalsPerEvent.join(',')}`,
    );
  });
});
