/**
 * Baton next to the real Flux notification-controller (built from Go modules, run against a real
 * etcd + kube-apiserver), both ways:
 *
 * - Flux → Baton: a `generic-hmac` Provider and an Alert on the HelmRelease, as the Weave docs have
 *   users create on each leaf cluster. The event is POSTed to the controller as helm-controller
 *   does; the controller matches the Alert, signs its own serialisation of the event with the
 *   Secret's `token`, and Baton's gateway has to verify that real signature to start the release.
 * - Baton → Flux (notification strategy): Baton POSTs its `Promote` event to the controller's event
 *   address, and an Alert on the `Pipeline` (the Alert CRD patched as the Weave docs say) forwards
 *   it to a `generic` Provider, which stands for the external CI system.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, type CoreV1Event, CustomObjectsApi } from '@kubernetes/client-node';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parse } from 'yaml';
import type { RunningGateway } from '../../gateway/server.js';
import { approveSignal, deployedSignal, stateQuery } from '../../model/messages.js';
import { PIPELINE_GROUP } from '../../model/pipeline.js';
import { applyPipelineCrd, ensureNamespace, type KubeApiServer, startKubeApiServer } from '../infra/kube-apiserver.js';
import {
  allowAlertEventSourceKind,
  applyNotificationCrds,
  createFluxNotificationObject,
  deleteFluxNotificationObject,
  type FluxEventBody,
  type NotificationController,
  postFluxEvent,
  startNotificationController,
} from '../infra/notification-controller.js';
import { startDevServer } from '../infra/temporal.js';
import { deployedFromFixture, FIXTURES, fixtureBody } from '../support/events.js';
import { fluxHeaders } from '../support/signing.js';
import { type BatonStack, startBatonStack } from '../support/baton-stack.js';
import { eventually } from '../support/eventually.js';
import { type FluxEventReceiver, type RecordedEvent, startFluxEventReceiver } from '../support/flux-event-receiver.js';

const PIPELINE = { namespace: 'flux-system', name: 'podinfo-02' } as const;
const DEV_NAMESPACE = 'podinfo-02-dev';
const HELM_GROUP = 'helm.toolkit.fluxcd.io';
const PIPELINE_MANIFEST = new URL('../../examples/pipelines/podinfo-02.yaml', import.meta.url);
/** The Secret the example Pipeline verifies webhooks with: its `hmac-key` is the Provider's `token`. */
const WEBHOOK_SECRET = new URL('../../examples/pipelines/podinfo-02-webhook-secret.yaml', import.meta.url);

/**
 * A fixture as helm-controller POSTs it to the notification-controller: fluxcd/pkg/runtime/events
 * sends metadata keys under the HelmRelease's API group (`helm.toolkit.fluxcd.io/revision`). The
 * controller keeps only keys with that prefix (or `event.toolkit.fluxcd.io/`) and strips the
 * prefix when it forwards, which is why the gateway normally sees `revision` unprefixed.
 */
function asHelmControllerSends(fixture: string): FluxEventBody {
  const event = JSON.parse(fixtureBody(fixture).toString('utf8')) as FluxEventBody;
  const metadata = Object.fromEntries(
    Object.entries(event.metadata ?? {}).map(([key, value]) => [key.includes('/') ? key : `${HELM_GROUP}/${key}`, value]),
  );
  return { ...event, metadata };
}

void describe('the real Flux notification-controller and Baton', () => {
  let kube: KubeApiServer;
  let controller: NotificationController;
  let temporal: TestWorkflowEnvironment;
  let recorder: FluxEventReceiver;
  let stack: BatonStack;
  let gateway: RunningGateway;
  let core: CoreV1Api;
  let hmacKey: string;

  /** `eventually`, with the controller's last log lines when it gives up. */
  async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
    try {
      return await eventually(what, probe);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nnotification-controller log (${controller.logPath}):\n${await controller.logTail()}`);
    }
  }

  /** POST /promotion answers with `status`, as counted by the gateway's own metrics. */
  async function promotionAnswers(status: number): Promise<number> {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    return text
      .split('\n')
      .filter(
        (line) =>
          line.startsWith('baton_gateway_http_requests_total{') &&
          line.includes('route="/promotion/') &&
          line.includes('method="POST"') &&
          line.includes(`status_code="${status}"`),
      )
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  /** Warning Events the controller recorded about an Alert (failed deliveries among them). */
  async function alertWarnings(namespace: string, alert: string): Promise<CoreV1Event[]> {
    const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=Alert,involvedObject.name=${alert}` });
    return list.items.filter((event) => event.type === 'Warning');
  }

  /**
   * A Secret holding the HMAC key as `token`, a generic-hmac Provider pointing at the gateway's
   * promotion webhook for the dev environment, and an Alert on HelmRelease `podinfo`: what the Weave
   * docs have users create on a leaf cluster. Returns a function deleting the Provider and Alert.
   */
  async function leafClusterNotifications(name: string, token: string): Promise<() => Promise<void>> {
    await core.createNamespacedSecret({
      namespace: DEV_NAMESPACE,
      body: { metadata: { name, namespace: DEV_NAMESPACE }, stringData: { token } },
    });
    const metadata = { name, namespace: DEV_NAMESPACE };
    await createFluxNotificationObject(kube.kubeConfig, 'providers', {
      metadata,
      spec: { type: 'generic-hmac', address: `${gateway.url}/promotion/${PIPELINE.namespace}/${PIPELINE.name}/dev`, secretRef: { name } },
    });
    await createFluxNotificationObject(kube.kubeConfig, 'alerts', {
      metadata,
      spec: { providerRef: { name }, eventSeverity: 'info', eventSources: [{ kind: 'HelmRelease', name: 'podinfo' }] },
    });
    await controller.sync();
    return async () => {
      await deleteFluxNotificationObject(kube.kubeConfig, 'alerts', DEV_NAMESPACE, name);
      await deleteFluxNotificationObject(kube.kubeConfig, 'providers', DEV_NAMESPACE, name);
    };
  }

  before(async () => {
    const secret = parse(await readFile(WEBHOOK_SECRET, 'utf8')) as { stringData: Record<string, string> };
    hmacKey = secret.stringData['hmac-key'] ?? '';
    assert.notEqual(hmacKey, '', `${WEBHOOK_SECRET.pathname} has no hmac-key`);
    kube = await startKubeApiServer();
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    await applyNotificationCrds(kube.kubeConfig);
    // The patch the Weave docs give for the notification strategy: `Pipeline` as an event source.
    await allowAlertEventSourceKind(kube.kubeConfig, 'Pipeline');
    await applyPipelineCrd(kube.kubeConfig);
    for (const namespace of [PIPELINE.namespace, DEV_NAMESPACE]) await ensureNamespace(kube.kubeConfig, namespace);
    controller = await startNotificationController(kube);

    temporal = await startDevServer();
    recorder = await startFluxEventReceiver();
    stack = await startBatonStack(temporal, { BATON_EVENTS_ADDRESS: controller.eventsUrl, BATON_GATEWAY_URL: 'https://baton.example.com' });
    gateway = stack.gateway;

    // The management cluster's side of the notification strategy, in place before any promotion:
    // the controller drops a repeated event for five minutes, so a Promote event that arrived
    // before this Alert existed would not be forwarded when the Alert appears.
    const manifest = parse(await readFile(PIPELINE_MANIFEST, 'utf8')) as object;
    await kube.kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: PIPELINE_GROUP,
      version: 'v1alpha1',
      plural: 'pipelines',
      namespace: PIPELINE.namespace,
      body: manifest,
      fieldValidation: 'Strict',
    });
    const metadata = { name: 'podinfo-02-ci', namespace: PIPELINE.namespace };
    await createFluxNotificationObject(kube.kubeConfig, 'providers', { metadata, spec: { type: 'generic', address: recorder.url } });
    await createFluxNotificationObject(kube.kubeConfig, 'alerts', {
      metadata,
      spec: {
        providerRef: { name: metadata.name },
        eventSeverity: 'info',
        eventSources: [{ kind: 'Pipeline', name: PIPELINE.name, namespace: PIPELINE.namespace }],
      },
    });
    await controller.sync();
  });

  after(async () => {
    await stack?.stop();
    await recorder?.close();
    await temporal?.teardown();
    await controller?.stop();
    await kube?.stop();
  });

  test("Flux → Baton: the controller signs helm-controller's event with the Secret token, the gateway verifies it and the release promotes into test", async () => {
    const removeNotifications = await leafClusterNotifications('baton-promotion', hmacKey);
    try {
      const [accepted, refused] = [await promotionAnswers(202), await promotionAnswers(401)];
      assert.equal(await postFluxEvent(controller.eventsUrl, asHelmControllerSends(FIXTURES.upgradeSucceeded)), 202);

      const handle = temporal.client.workflow.getHandle(`release/${PIPELINE.namespace}/${PIPELINE.name}/6.7.1`);
      const state = await waitFor('the release to promote 6.7.1 into test', async () => {
        const current = await handle.query(stateQuery);
        return current.promotions[0]?.completedAt === undefined ? undefined : current;
      });
      // What the gateway made of the event the controller forwarded.
      assert.equal(state.version, '6.7.1');
      assert.equal(state.reached[0]?.environment, 'dev');
      assert.equal(state.reached[0]?.event.revision, '6.7.1');
      assert.equal(state.reached[0]?.event.reportingController, 'helm-controller');
      assert.deepEqual(state.reached[0]?.event.involvedObject, {
        apiVersion: 'helm.toolkit.fluxcd.io/v2',
        kind: 'HelmRelease',
        namespace: DEV_NAMESPACE,
        name: 'podinfo',
      });
      assert.deepEqual(
        {
          source: state.promotions[0]?.sourceEnvironment,
          target: state.promotions[0]?.targetEnvironment,
          strategy: state.promotions[0]?.strategy,
        },
        { source: 'dev', target: 'test', strategy: 'notification' },
      );

      // The gateway answered the controller's one delivery with 202, and refused nothing.
      assert.equal(await promotionAnswers(202), accepted + 1);
      assert.equal(await promotionAnswers(401), refused);
      assert.deepEqual(await alertWarnings(DEV_NAMESPACE, 'baton-promotion'), []);
    } finally {
      await removeNotifications();
    }
  });

  test("Flux → Baton: a Provider whose token is not the Pipeline's hmac-key is refused with 401 and starts nothing", async () => {
    const removeNotifications = await leafClusterNotifications('baton-promotion-wrong-key', 'not-the-pipelines-hmac-key');
    try {
      const refused = await promotionAnswers(401);
      // Already prefixed as helm-controller sends it; version 6.7.3, which no other test releases.
      const event = JSON.parse(fixtureBody(FIXTURES.upgradeSucceededPrefixed).toString('utf8')) as FluxEventBody;
      assert.equal(event.metadata?.[`${HELM_GROUP}/revision`], '6.7.3');
      assert.equal(await postFluxEvent(controller.eventsUrl, event), 202, 'the controller accepts the event; delivery fails later');

      // The controller records the failed delivery as a Warning Event on the Alert, with the
      // gateway's answer in it.
      const [failure] = await waitFor('the controller to record the failed delivery', async () => {
        const warnings = await alertWarnings(DEV_NAMESPACE, 'baton-promotion-wrong-key');
        return warnings.length > 0 ? warnings : undefined;
      });
      assert.equal(failure?.reason, 'NotificationDispatchFailed');
      assert.match(failure?.message ?? '', /status code 401/);
      assert.match(failure?.message ?? '', /signature verification failed/);

      // One delivery, one 401: Flux does not retry a 4xx.
      assert.equal(await promotionAnswers(401), refused + 1);
      await assert.rejects(
        temporal.client.workflow.getHandle(`release/${PIPELINE.namespace}/${PIPELINE.name}/6.7.3`).describe(),
        /not found/i,
      );
    } finally {
      await removeNotifications();
    }
  });

  test("Baton → Flux: an Alert on the Pipeline forwards Baton's Promote event, its metadata keys stripped of the pipelines.weave.works/ prefix", async () => {
    // The promotion of 6.7.1 into test. The first test caused it through Flux; the same dev event,
    // signed as Flux signs it, lets this test stand alone, and a repeat changes nothing.
    const body = fixtureBody(FIXTURES.upgradeSucceeded);
    const response = await fetch(`${gateway.url}/promotion/${PIPELINE.namespace}/${PIPELINE.name}/dev`, {
      method: 'POST',
      headers: fluxHeaders(body, { key: hmacKey }),
      body,
    });
    assert.equal(response.status, 202);

    const isPromotion = (event: RecordedEvent): boolean => event.reason === 'Promote' && event.involvedObject.name === PIPELINE.name;
    const forwarded = await waitFor('the controller to forward the Promote event', () => recorder.events.find(isPromotion));
    assert.equal(forwarded.message, 'Promote pipeline flux-system/podinfo-02 to test with version 6.7.1');
    assert.deepEqual(
      { ...forwarded.involvedObject },
      { apiVersion: `${PIPELINE_GROUP}/v1alpha1`, kind: 'Pipeline', namespace: PIPELINE.namespace, name: PIPELINE.name },
    );
    // Real Flux (v1.6) keeps only metadata keys under the involved object's API group (or
    // event.toolkit.fluxcd.io/) and forwards them WITHOUT that prefix: Baton's
    // `pipelines.weave.works/environment` reaches the Provider as `environment`. Weave's unprefixed
    // keys were dropped by the same rule, so before Baton the CI system received no metadata at all.
    assert.equal(forwarded.metadata.environment, 'test');
    assert.equal(forwarded.metadata.version, '6.7.1');
    assert.equal(forwarded.metadata['source-environment'], 'dev');
    assert.equal(forwarded.metadata['workflow-id'], `release/${PIPELINE.namespace}/${PIPELINE.name}/6.7.1`);
    assert.deepEqual(
      Object.keys(forwarded.metadata).filter((key) => key.includes('/')),
      [],
      'no key keeps a group prefix',
    );
    assert.equal(recorder.events.filter(isPromotion).length, 1, 'one promotion, one forwarded event');
    assert.deepEqual(await alertWarnings(PIPELINE.namespace, 'podinfo-02-ci'), []);
  });

  test("Baton → Flux: the Alert on the Pipeline forwards the release's notices — waiting for approval with how to approve, approved, promoted", async () => {
    // 6.7.1 promoted into test (the tests above, or this dev event, a harmless repeat otherwise).
    const body = fixtureBody(FIXTURES.upgradeSucceeded);
    const response = await fetch(`${gateway.url}/promotion/${PIPELINE.namespace}/${PIPELINE.name}/dev`, {
      method: 'POST',
      headers: fluxHeaders(body, { key: hmacKey }),
      body,
    });
    assert.equal(response.status, 202);
    const handle = temporal.client.workflow.getHandle(`release/${PIPELINE.namespace}/${PIPELINE.name}/6.7.1`);
    await waitFor('the promotion into test', async () => (await handle.query(stateQuery)).promotions[0]?.completedAt);

    // Flux reports 6.7.1 in both of test's targets: prod's manual gate opens.
    for (const namespace of ['podinfo-02-qa', 'podinfo-02-perf']) {
      await handle.signal(deployedSignal, deployedFromFixture(FIXTURES.upgradeSucceeded, 'test', namespace));
    }
    const notice = (reason: string) => (event: RecordedEvent) => event.reason === reason && event.involvedObject.name === PIPELINE.name;
    const waiting = await waitFor('the controller to forward the AwaitingApproval notice', () =>
      recorder.events.find(notice('AwaitingApproval')),
    );
    assert.equal(waiting.involvedObject.kind, 'Pipeline');
    assert.match(waiting.message, /^podinfo 6\.7\.1 is waiting for approval to be promoted into prod/);
    const command = 'npx baton approve flux-system/podinfo-02 prod 6.7.1 --gateway https://baton.example.com';
    assert.ok(waiting.message.includes(`Approve: ${command}`), waiting.message);
    // Forwarded without the pipelines.weave.works/ prefix, as the Alert's receivers read them.
    assert.deepEqual(
      {
        pipeline: waiting.metadata.pipeline,
        environment: waiting.metadata.environment,
        version: waiting.metadata.version,
        phase: waiting.metadata.phase,
        command: waiting.metadata['approve-command'],
        url: waiting.metadata['approval-url'],
      },
      {
        pipeline: 'flux-system/podinfo-02',
        environment: 'prod',
        version: '6.7.1',
        phase: 'AwaitingApproval',
        command,
        url: 'https://baton.example.com/approval/flux-system/podinfo-02/prod/6.7.1',
      },
    );
    assert.match(waiting.metadata['temporal-url'] ?? '', /\/workflows\/release%2Fflux-system%2Fpodinfo-02%2F6\.7\.1$/);

    await handle.signal(approveSignal, { approver: 'release-manager@example.com' });
    const approved = await waitFor('the Approved notice', () => recorder.events.find(notice('Approved')));
    assert.equal(approved.metadata.approver, 'release-manager@example.com');
    const promoted = await waitFor('the Promoted notice for prod', () =>
      recorder.events.find((event) => notice('Promoted')(event) && event.metadata.environment === 'prod'),
    );
    assert.match(promoted.message, /^Promoted 6\.7\.1 from test into prod/);
    assert.equal(promoted.metadata.phase, 'AwaitingDeployment');
    assert.deepEqual(await alertWarnings(PIPELINE.namespace, 'podinfo-02-ci'), []);
  });
});
