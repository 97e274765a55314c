/**
 * The Promote Event and the release notices' Events against a real kube-apiserver: recorded about
 * the Pipeline object, once however often the activity is retried, and failures split into "fix
 * this" and "try again".
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { parse } from 'yaml';
import {
  createKubernetesEventNotifier,
  EventAnnotation,
  promotionEventName,
  releaseEventName,
} from '../../../activities/notify/kubernetes-event.js';
import { type PromotionNotification, promotionMessage } from '../../../activities/notify/notifier.js';
import { releaseAnnouncement } from '../../../activities/release-notices.js';
import { ReleasePhase } from '../../../model/release.js';
import { ReleaseNoticeReason } from '../../../model/release-notice.js';
import { FailureType } from '../../../model/failures.js';
import { PIPELINE_GROUP } from '../../../model/pipeline.js';
import { applyPipelineCrd, ensureNamespace, type KubeApiServer, startKubeApiServer } from '../../infra/kube-apiserver.js';

const FIXTURE = new URL('../../fixtures/pipelines/podinfo-02-pull-request.yaml', import.meta.url);
const NAMESPACE = 'flux-system';

function notification(pipeline: PromotionNotification['pipeline'], targetEnvironment: string): PromotionNotification {
  const base = {
    pipeline,
    sourceEnvironment: 'dev',
    targetEnvironment,
    version: '6.7.1',
    workflowId: `release/${pipeline.namespace}/${pipeline.name}/6.7.1`,
  };
  return { ...base, message: promotionMessage(base) };
}

function assertRejected(error: unknown, pattern: RegExp): true {
  assert.ok(error instanceof ApplicationFailure, `an ApplicationFailure, not ${String(error)}`);
  assert.equal(error.nonRetryable, true);
  assert.equal(error.type, FailureType.kubernetesEventRejected);
  assert.match(error.message, pattern);
  return true;
}

void describe('Kubernetes Event notifier against a real kube-apiserver', () => {
  let kube: KubeApiServer;
  let core: CoreV1Api;
  let pipeline: PromotionNotification['pipeline'];

  before(async () => {
    kube = await startKubeApiServer();
    await applyPipelineCrd(kube.kubeConfig);
    await ensureNamespace(kube.kubeConfig, NAMESPACE);
    core = kube.kubeConfig.makeApiClient(CoreV1Api);
    const body = parse(await readFile(FIXTURE, 'utf8')) as object;
    const created = (await kube.kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: PIPELINE_GROUP,
      version: 'v1alpha1',
      plural: 'pipelines',
      namespace: NAMESPACE,
      body,
    })) as { metadata: { name: string; namespace: string; uid: string } };
    pipeline = { namespace: created.metadata.namespace, name: created.metadata.name, uid: created.metadata.uid };
  });

  after(async () => {
    await kube?.stop();
  });

  async function eventsAboutPodinfo02() {
    const list = await core.listNamespacedEvent({ namespace: NAMESPACE, fieldSelector: 'involvedObject.name=podinfo-02' });
    return list.items;
  }

  void test('records one Normal Promote Event about the Pipeline, however often the activity is retried', async () => {
    const notifier = createKubernetesEventNotifier(kube.kubeConfig, { instance: 'baton-worker-0' });
    const toTest = notification(pipeline, 'test');
    await notifier.notify(toTest);
    await notifier.notify(toTest);

    const events = await eventsAboutPodinfo02();
    assert.equal(events.length, 1);
    const [event] = events;
    assert.ok(event);
    assert.equal(event.metadata.name, promotionEventName(toTest));
    assert.equal(event.type, 'Normal');
    assert.equal(event.reason, 'Promote');
    assert.equal(event.message, 'Promote pipeline flux-system/podinfo-02 to test with version 6.7.1');
    assert.deepEqual(
      {
        apiVersion: event.involvedObject.apiVersion,
        kind: event.involvedObject.kind,
        namespace: event.involvedObject.namespace,
        name: event.involvedObject.name,
        uid: event.involvedObject.uid,
      },
      { apiVersion: 'pipelines.weave.works/v1alpha1', kind: 'Pipeline', namespace: NAMESPACE, name: 'podinfo-02', uid: pipeline.uid },
    );
    assert.equal(event.source?.component, 'baton');
    assert.equal(event.reportingComponent, 'baton');
    assert.equal(event.reportingInstance, 'baton-worker-0');
    assert.deepEqual(event.metadata.annotations, {
      [EventAnnotation.environment]: 'test',
      [EventAnnotation.version]: '6.7.1',
      [EventAnnotation.workflowId]: 'release/flux-system/podinfo-02/6.7.1',
    });
    assert.equal(event.count, 1);
  });

  void test('release notices are Events about the Pipeline: the waiting one says how to approve, a failure is a Warning', async () => {
    const notifier = createKubernetesEventNotifier(kube.kubeConfig, { instance: 'baton-worker-1' });
    const notice = {
      pipeline: { namespace: NAMESPACE, name: 'podinfo-02' },
      version: '6.7.2',
      environment: 'prod',
      workflowId: 'release/flux-system/podinfo-02/6.7.2',
    };
    const settings = { temporalUi: { uiUrl: 'https://temporal.example.com', namespace: 'baton' }, gatewayUrl: 'https://baton.example.com' };
    const waiting = releaseAnnouncement(
      {
        ...notice,
        reason: ReleaseNoticeReason.awaitingApproval,
        phase: ReleasePhase.awaitingApproval,
        summary: 'podinfo 6.7.2 is waiting for approval to be promoted into prod',
      },
      settings,
      pipeline.uid,
    );
    const failed = releaseAnnouncement(
      { ...notice, reason: ReleaseNoticeReason.failed, phase: ReleasePhase.failed, summary: 'Failed: promoting 6.7.2 into prod failed: …' },
      settings,
      pipeline.uid,
    );
    // A retried activity sends the same notice twice: one Event.
    await notifier.announce(waiting);
    await notifier.announce(waiting);
    await notifier.announce(failed);

    const events = (await eventsAboutPodinfo02()).filter((e) => e.metadata.annotations?.[`${PIPELINE_GROUP}/version`] === '6.7.2');
    assert.deepEqual(events.map((e) => [e.reason, e.type]).sort(), [
      ['AwaitingApproval', 'Normal'],
      ['PromotionFailed', 'Warning'],
    ]);
    const event = events.find((e) => e.reason === 'AwaitingApproval');
    assert.ok(event);
    assert.equal(event.metadata.name, releaseEventName(waiting));
    assert.equal(event.involvedObject.kind, 'Pipeline');
    assert.equal(event.involvedObject.uid, pipeline.uid);
    assert.equal(event.reportingInstance, 'baton-worker-1');
    assert.match(event.message ?? '', /^podinfo 6\.7\.2 is waiting for approval to be promoted into prod\n/);
    assert.ok(event.message?.includes('Approve: npx baton approve flux-system/podinfo-02 prod 6.7.2 --gateway https://baton.example.com'));
    assert.ok(event.message?.includes('POST https://baton.example.com/approval/flux-system/podinfo-02/prod/6.7.2'));
    assert.ok(
      event.message?.includes('https://temporal.example.com/namespaces/baton/workflows/release%2Fflux-system%2Fpodinfo-02%2F6.7.2'),
    );
    assert.deepEqual(
      Object.fromEntries(
        ['pipeline', 'environment', 'version', 'phase', 'approve-command'].map((key) => [
          key,
          event.metadata.annotations?.[`${PIPELINE_GROUP}/${key}`],
        ]),
      ),
      {
        pipeline: 'flux-system/podinfo-02',
        environment: 'prod',
        version: '6.7.2',
        phase: 'AwaitingApproval',
        'approve-command': 'npx baton approve flux-system/podinfo-02 prod 6.7.2 --gateway https://baton.example.com',
      },
    );
  });

  void test('a promotion into another environment is another Event', async () => {
    const notifier = createKubernetesEventNotifier(kube.kubeConfig);
    await notifier.notify(notification(pipeline, 'prod'));
    const events = await eventsAboutPodinfo02();
    const promotions = events.filter((e) => e.reason === 'Promote');
    assert.deepEqual(promotions.map((e) => e.metadata.annotations?.[EventAnnotation.environment]).sort(), ['prod', 'test']);
  });

  void test('a missing namespace is a non-retryable failure naming it', async () => {
    const notifier = createKubernetesEventNotifier(kube.kubeConfig);
    await assert.rejects(notifier.notify(notification({ namespace: 'no-such-namespace', name: 'podinfo-02' }, 'test')), (error) =>
      assertRejected(error, /namespace no-such-namespace does not exist/),
    );
  });

  void test('missing RBAC is a non-retryable failure saying which permission baton needs', async () => {
    const notifier = createKubernetesEventNotifier(kube.restrictedKubeConfig);
    await assert.rejects(notifier.notify(notification(pipeline, 'test')), (error) =>
      assertRejected(error, /RBAC: baton needs create on events in flux-system/),
    );
  });

  void test('credentials Kubernetes does not know are a non-retryable failure', async () => {
    const stranger = new KubeConfig();
    stranger.loadFromOptions({
      clusters: [{ name: 'test', server: kube.server, skipTLSVerify: true }],
      users: [{ name: 'stranger', token: 'not-a-known-token' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'stranger' }],
      currentContext: 'test',
    });
    await assert.rejects(createKubernetesEventNotifier(stranger).notify(notification(pipeline, 'test')), (error) =>
      assertRejected(error, /did not accept Baton's credentials/),
    );
  });

  void test('an unreachable API server is a plain error, so the activity is retried', async () => {
    const unreachable = new KubeConfig();
    unreachable.loadFromOptions({
      clusters: [{ name: 'gone', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'admin', token: kube.token }],
      contexts: [{ name: 'gone', cluster: 'gone', user: 'admin' }],
      currentContext: 'gone',
    });
    await assert.rejects(createKubernetesEventNotifier(unreachable).notify(notification(pipeline, 'test')), (error) => {
      assert.ok(error instanceof Error);
      assert.ok(!(error instanceof ApplicationFailure), 'not an ApplicationFailure: Temporal retries it');
      assert.match(error.message, /creating the Promote Event about Pipeline flux-system\/podinfo-02 failed/);
      return true;
    });
  });
});
