/**
 * The notification strategy against the real Flux notification-controller (on a real etcd +
 * kube-apiserver), with the worker a real process: SIGKILLed after the controller took the Promote
 * event and before the worker heard back, and the controller unreachable for a while, then for
 * good. An Alert on the Pipelines forwards their events to a recording endpoint (standing for the
 * CI system a generic Provider calls); the worker reaches the controller through a proxy that
 * watches, holds and cuts the deliveries. What reaches the CI system is counted: one Promote event
 * per promotion, whatever the worker went through.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { stateQuery } from '../../model/messages.js';
import { ReleasePhase } from '../../model/release.js';
import { ensureNamespace, type KubeApiServer, startKubeApiServer } from '../infra/kube-apiserver.js';
import {
  allowAlertEventSourceKind,
  applyNotificationCrds,
  createFluxNotificationObject,
  type NotificationController,
  startNotificationController,
} from '../infra/notification-controller.js';
import { startDevServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { type FluxEventReceiver, type RecordedEvent, startFluxEventReceiver } from '../support/flux-event-receiver.js';
import { type CrashableWorker, startCrashableWorker } from './support/crashable-worker.js';
import { type InterceptingProxy, type ProxiedRequest, startInterceptingProxy } from './support/intercepting-proxy.js';
import { deployed, promotedInto, quickPolicy } from './support/releases.js';

const NS = 'crash-notify';
const PIPELINES = ['killed-after-accept', 'briefly-unreachable', 'unreachable'] as const;
type Name = (typeof PIPELINES)[number];

const manifests = PIPELINES.map(
  (name) => `
apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: ${name}, namespace: ${NS}}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: ${name}}
  environments:
    - name: dev
      targets: [{namespace: notify-dev}]
    - name: prod
      targets: [{namespace: notify-prod}]
  promotion:
    strategy: {notification: {}}
`,
).join('---\n');

/** Baton's Promote event for `name`, as the worker POSTs it to the controller. */
const isPromoteOf =
  (name: Name) =>
  (request: ProxiedRequest): boolean => {
    if (request.method !== 'POST') return false;
    try {
      const event = JSON.parse(request.body) as { reason?: string; involvedObject?: { name?: string } };
      return event.reason === 'Promote' && event.involvedObject?.name === name;
    } catch {
      return false;
    }
  };
const forwardedPromote = (name: Name) => (event: RecordedEvent) => event.reason === 'Promote' && event.involvedObject.name === name;

describe('the notification strategy: worker SIGKILLed, notification-controller unreachable', () => {
  let kube: KubeApiServer;
  let controller: NotificationController;
  let ci: FluxEventReceiver;
  let proxy: InterceptingProxy;
  let env: TestWorkflowEnvironment;
  let worker: CrashableWorker;
  let pipelinesDir: string;
  const taskQueue = `reliability-notify-${process.pid}`;

  before(async () => {
    kube = await startKubeApiServer();
    await applyNotificationCrds(kube.kubeConfig);
    await allowAlertEventSourceKind(kube.kubeConfig, 'Pipeline');
    await ensureNamespace(kube.kubeConfig, NS);
    controller = await startNotificationController(kube);
    ci = await startFluxEventReceiver();
    const metadata = { name: 'ci', namespace: NS };
    await createFluxNotificationObject(kube.kubeConfig, 'providers', { metadata, spec: { type: 'generic', address: ci.url } });
    await createFluxNotificationObject(kube.kubeConfig, 'alerts', {
      metadata,
      spec: { providerRef: { name: 'ci' }, eventSeverity: 'info', eventSources: [{ kind: 'Pipeline', name: '*', namespace: NS }] },
    });
    await controller.sync();
    const controllerOrigin = new URL(controller.eventsUrl).origin;
    proxy = await startInterceptingProxy({ tls: false, upstream: () => controllerOrigin });

    pipelinesDir = await mkdtemp(join(tmpdir(), 'baton-notify-pipelines-'));
    await writeFile(join(pipelinesDir, 'pipelines.yaml'), manifests);
    env = await startDevServer();
    worker = await startCrashableWorker({
      client: env.client,
      temporalAddress: env.address,
      taskQueue,
      env: { BATON_PIPELINES_DIR: pipelinesDir, BATON_EVENTS_ADDRESS: `${proxy.url}/` },
    });
  });

  after(async () => {
    await worker?.stop();
    await env?.teardown();
    await proxy?.close();
    await ci?.close();
    await controller?.stop();
    await kube?.stop();
    if (pipelinesDir) await rm(pipelinesDir, { recursive: true, force: true });
  });

  const release = (name: Name, policy = quickPolicy()) =>
    deployed(env.client, {
      taskQueue,
      pipeline: { namespace: NS, name },
      version: '3.0.0',
      environment: 'dev',
      namespace: 'notify-dev',
      policy,
    });

  test('killed after the controller accepted the Promote event, before the worker heard: the retry is a duplicate the controller drops (429); the CI system gets one event', async (t) => {
    let killed!: () => void;
    const wasKilled = new Promise<void>((resolve) => (killed = resolve));
    let fired = false;
    proxy.setHooks({
      beforeAnswer: async (answer) => {
        if (fired || !isPromoteOf('killed-after-accept')(answer) || answer.status !== 202) return;
        fired = true;
        await worker.kill();
        killed();
      },
    });
    const handle = await release('killed-after-accept');
    await wasKilled;
    proxy.setHooks({});
    const restartedAt = Date.now();
    await worker.restart();
    const state = await promotedInto(handle, 'prod');
    assert.equal(state.phase, ReleasePhase.awaitingDeployment, 'the release went on to wait for Flux in prod');
    assert.equal(state.promotions.length, 1);

    const deliveries = proxy.log.filter(isPromoteOf('killed-after-accept'));
    assert.deepEqual(
      deliveries.map((d) => d.status),
      [202, 429],
      'the first delivery accepted (its answer lost with the worker), the retry refused as a duplicate',
    );
    // The controller forwards asynchronously: give a second copy every chance to show up.
    await eventually('the forwarded Promote event', () => ci.events.some(forwardedPromote('killed-after-accept')));
    await controller.sync();
    assert.equal(ci.events.filter(forwardedPromote('killed-after-accept')).length, 1, 'exactly one Promote event reached the CI system');
    t.diagnostic(`deliveries ${deliveries.map((d) => d.status).join(',')}; restart to promoted ${Date.now() - restartedAt} ms`);
  });

  test('controller unreachable for the first attempts: retried, delivered once when it is back', async (t) => {
    let cut = 0;
    proxy.setHooks({
      beforeForward: (request) => {
        if (isPromoteOf('briefly-unreachable')(request) && cut < 2) {
          cut += 1;
          return { drop: true };
        }
        return { forward: true };
      },
    });
    const handle = await release('briefly-unreachable');
    const state = await promotedInto(handle, 'prod');
    proxy.setHooks({});
    assert.equal(state.promotions.length, 1);
    const deliveries = proxy.log.filter(isPromoteOf('briefly-unreachable'));
    assert.deepEqual(
      deliveries.map((d) => d.status),
      [0, 0, 202],
    );
    await eventually('the forwarded Promote event', () => ci.events.some(forwardedPromote('briefly-unreachable')));
    await controller.sync();
    assert.equal(ci.events.filter(forwardedPromote('briefly-unreachable')).length, 1);
    t.diagnostic(`deliveries ${deliveries.map((d) => d.status).join(',')}`);
  });

  test('controller unreachable through every attempt: the release fails saying where it could not deliver; after recovery a new event delivers once', async (t) => {
    proxy.setHooks({ beforeForward: (request) => (isPromoteOf('unreachable')(request) ? { drop: true } : { forward: true }) });
    const policy = quickPolicy({ activityRetry: { ...quickPolicy().activityRetry, maximumAttempts: 3 } });
    const handle = await release('unreachable', policy);
    const error = await handle.result().then(
      () => assert.fail('the release should fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WorkflowFailedError);
    const state = await handle.query(stateQuery);
    assert.equal(state.phase, ReleasePhase.failed);
    assert.match(state.lastError ?? '', /promoting 3\.0\.0 into prod failed: /);
    assert.ok((state.lastError ?? '').includes(proxy.url), `the message names the notification-controller: ${state.lastError}`);
    const attempts = proxy.log.filter(isPromoteOf('unreachable')).length;
    assert.equal(attempts, 3, 'the policy allows three attempts');
    assert.equal(ci.events.filter(forwardedPromote('unreachable')).length, 0);

    // Back: Flux reports the version again (its next reconciliation), which restarts the failed release.
    proxy.setHooks({});
    const again = await release('unreachable');
    await promotedInto(again, 'prod');
    await eventually('the forwarded Promote event', () => ci.events.some(forwardedPromote('unreachable')));
    await controller.sync();
    assert.equal(ci.events.filter(forwardedPromote('unreachable')).length, 1);
    t.diagnostic(`failed after ${attempts} attempts: ${state.lastError}`);
  });
});
