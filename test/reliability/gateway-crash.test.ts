/**
 * The gateway process SIGKILLed between signal-with-start and its answer: Temporal has the event,
 * Flux got no answer. Flux sends it again, to another (fresh) gateway; the retry changes nothing —
 * the same release, its dev event recorded once, the repeat counted as a repeat.
 *
 * The gateway talks to Temporal through a TCP proxy that, once armed, holds Temporal's answers:
 * the test sees the signal in the workflow's history (through its own connection) while the HTTP
 * client is still waiting, and kills the gateway then.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { deployedSignal, stateQuery } from '../../model/messages.js';
import { startDevServer } from '../infra/temporal.js';
import { type BatonStack, startBatonStack } from '../support/baton-stack.js';
import { eventually } from '../support/eventually.js';
import { fluxHeaders } from '../support/signing.js';
import { devEvent } from './support/flux-sender.js';
import { type GatewayProcess, startGatewayProcess } from './support/gateway-process.js';
import { type PausableTcpProxy, startPausableTcpProxy } from './support/pausable-tcp-proxy.js';

const VERSION = '8.0.1';
const WORKFLOW_ID = `release/flux-system/podinfo-02/${VERSION}`;

describe('the gateway SIGKILLed after Temporal took the event, before Flux got the answer', () => {
  let env: TestWorkflowEnvironment;
  let stack: BatonStack;
  let proxy: PausableTcpProxy;
  let doomed: GatewayProcess;

  before(async () => {
    env = await startDevServer();
    // The worker, and the fresh gateway the retry reaches (in one process, as `npm start` runs them).
    stack = await startBatonStack(env);
    const [host, port] = env.address.split(':');
    proxy = await startPausableTcpProxy({ host: host === 'localhost' ? '127.0.0.1' : host!, port: Number(port) });
    doomed = await startGatewayProcess({
      TEMPORAL_ADDRESS: proxy.address,
      BATON_PIPELINES_DIR: 'examples/pipelines',
      // Long enough that the gateway is still waiting when it is killed, never answering 503 first.
      BATON_SIGNAL_TIMEOUT: '60s',
    });
  });

  after(async () => {
    await doomed?.kill();
    await proxy?.close();
    await stack?.stop();
    await env?.teardown();
  });

  const post = (url: string) =>
    fetch(`${url}/promotion/flux-system/podinfo-02/dev`, {
      method: 'POST',
      headers: fluxHeaders(devEvent(VERSION)),
      body: devEvent(VERSION),
    });

  test('Flux retries to a fresh gateway: the same release, the event recorded once', async (t) => {
    // Its connection to Temporal is up (readiness asks Temporal) before the answers are held.
    await eventually('the doomed gateway to be ready', async () => (await fetch(`${doomed.url}/readyz`)).status === 200);
    proxy.pause();
    const first = post(doomed.url).then(
      (response) => ({ status: response.status }),
      (error: unknown) => ({ error }),
    );
    const handle = env.client.workflow.getHandle(WORKFLOW_ID);
    const signalled = await eventually('Temporal to hold the signal-with-start', async () => {
      const history = await handle.fetchHistory();
      return (history.events ?? []).some((e) => e.workflowExecutionSignaledEventAttributes) && history;
    });
    const { runId } = await handle.describe();
    await doomed.kill();
    const answer = await first;
    assert.ok('error' in answer, `Flux got no answer from the killed gateway (got ${JSON.stringify(answer)})`);
    assert.ok(signalled.events!.length > 0);

    // Flux's retry reaches another gateway replica.
    const retry = await post(stack.gateway.url);
    assert.equal(retry.status, 202);
    const body = (await retry.json()) as { workflowId: string; runId: string };
    assert.equal(body.workflowId, WORKFLOW_ID);
    assert.equal(body.runId, runId, 'the same run, not a second release');

    const state = await eventually('the promotion into test', async () => {
      const current = await handle.query(stateQuery);
      return current.promotions.some((p) => p.targetEnvironment === 'test' && p.completedAt !== undefined) && current;
    });
    assert.deepEqual(
      state.reached.map((r) => r.environment),
      ['dev'],
      'dev reached once',
    );
    // The repeat is handled by the workflow's next task, which may come after the promotion's.
    await eventually(
      'the retry counted as a repeat of the dev event',
      async () => (await handle.query(stateQuery)).reached[0]?.repeats === 1,
    );
    assert.equal(state.promotions.length, 1, 'promoted into test once');
    const history = await handle.fetchHistory();
    const signals = (history.events ?? []).filter(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === deployedSignal.name,
    ).length;
    assert.equal(signals, 2, 'both deliveries are in the history; the second changed nothing');
    t.diagnostic(`deliveries in history: ${signals}; first answer: ${String(answer.error)}`);
  });
});
