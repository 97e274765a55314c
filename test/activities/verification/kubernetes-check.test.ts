/**
 * The `verifyCheck` activity's kubernetes checks against a real kube-apiserver, on HelmReleases
 * (test/fixtures/crds/helmreleases.yaml stands in for Flux's CRD) whose status the test writes as
 * helm-controller would: Ready=True naming the version passes; a condition that never holds fails
 * at the timeout with the condition's reason and message; one that comes to hold passes; a status
 * naming another version fails; a namespace outside the Pipeline's, a kind the cluster does not
 * serve, and credentials RBAC refuses cannot run.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { ApiextensionsV1Api, CustomObjectsApi, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse } from 'yaml';
import { createVerificationActivities } from '../../../activities/verification/index.js';
import { FailureType } from '../../../model/failures.js';
import type { CheckRequest, KubernetesCheck } from '../../../model/verification.js';
import { ensureNamespace, eventually, type KubeApiServer, startKubeApiServer } from '../../infra/kube-apiserver.js';
import { applicationFailure } from '../../support/failure.js';
import { runCheck } from './run-check.js';

const HELM_RELEASE_CRD = new URL('../../fixtures/crds/helmreleases.yaml', import.meta.url);
const HELM = { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' } as const;
const NAMESPACE = 'verify-podinfo-qa';
const VERSION = '6.7.1';

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

describe('kubernetes verification checks against a real kube-apiserver', () => {
  let kube: KubeApiServer;
  let objects: CustomObjectsApi;
  let activities: ReturnType<typeof createVerificationActivities>;

  before(async () => {
    kube = await startKubeApiServer();
    const crds = kube.kubeConfig.makeApiClient(ApiextensionsV1Api);
    const body = parse(await readFile(HELM_RELEASE_CRD, 'utf8')) as V1CustomResourceDefinition;
    await crds.createCustomResourceDefinition({ body, fieldValidation: 'Strict' });
    await eventually('the HelmRelease CRD is Established', async () => {
      const crd = await crds.readCustomResourceDefinition({ name: body.metadata!.name! });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });
    await ensureNamespace(kube.kubeConfig, NAMESPACE);
    objects = kube.kubeConfig.makeApiClient(CustomObjectsApi);
    activities = createVerificationActivities({ pipelines: { getSecret: () => Promise.resolve(undefined) }, kubeConfig: kube.kubeConfig });
  });

  after(async () => {
    await kube.stop();
  });

  /** A HelmRelease named `name` whose status says what helm-controller would. */
  async function helmRelease(name: string, ready: Condition, revision: string): Promise<void> {
    await objects.createNamespacedCustomObject({
      ...HELM,
      namespace: NAMESPACE,
      body: {
        apiVersion: `${HELM.group}/${HELM.version}`,
        kind: 'HelmRelease',
        metadata: { name, namespace: NAMESPACE },
        spec: { interval: '5m' },
      },
    });
    await setStatus(name, ready, revision);
  }

  async function setStatus(name: string, ready: Condition, revision: string): Promise<void> {
    const current = (await objects.getNamespacedCustomObject({ ...HELM, namespace: NAMESPACE, name })) as {
      metadata: { generation: number };
    };
    const generation = current.metadata.generation;
    await objects.replaceNamespacedCustomObjectStatus({
      ...HELM,
      namespace: NAMESPACE,
      name,
      body: {
        ...current,
        status: {
          observedGeneration: generation,
          lastAttemptedRevision: revision,
          history: [{ chartVersion: revision, status: ready.status === 'True' ? 'deployed' : 'failed' }],
          conditions: [{ ...ready, observedGeneration: generation, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
        },
      },
    });
  }

  function request(name: string, check: Partial<KubernetesCheck> = {}, namespaces = ['team-a', NAMESPACE]): CheckRequest {
    const full: KubernetesCheck = {
      name: 'podinfo ready',
      type: 'kubernetes',
      resource: { apiVersion: `${HELM.group}/${HELM.version}`, kind: 'HelmRelease', namespace: NAMESPACE, name },
      condition: { type: 'Ready', status: 'True' },
      reportsVersion: true,
      timeoutMs: 1_500,
      intervalMs: 100,
      ...check,
    };
    return { pipeline: { namespace: 'team-a', name: 'podinfo' }, environment: 'test', version: VERSION, check: full, namespaces };
  }

  const READY: Condition = {
    type: 'Ready',
    status: 'True',
    reason: 'UpgradeSucceeded',
    message: `Helm upgrade succeeded for release ${NAMESPACE}/podinfo.v2 with chart podinfo@${VERSION}`,
  };
  const FAILED: Condition = {
    type: 'Ready',
    status: 'False',
    reason: 'UpgradeFailed',
    message: 'Helm upgrade failed: timed out waiting for the condition',
  };

  test('Ready=True and the status naming the version: it passes', async () => {
    await helmRelease('ready', READY, VERSION);
    const result = await runCheck(activities, request('ready'));
    assert.equal(result.passed, true);
    assert.equal(result.attempts, 1);
    assert.deepEqual(
      result.samples.map((s) => [s.passed, s.observed]),
      [[true, `Ready=True (UpgradeSucceeded); lastAttemptedRevision ${VERSION}, history[0].chartVersion ${VERSION}`]],
    );
  });

  test('a condition that never holds fails at the timeout, with its reason and message', async () => {
    await helmRelease('failed', FAILED, VERSION);
    const result = await runCheck(activities, request('failed'));
    assert.equal(result.passed, false);
    assert.ok((result.attempts ?? 0) > 1, 'read again until the timeout');
    assert.equal(
      result.why,
      `HelmRelease ${NAMESPACE}/failed not Ready=True reporting ${VERSION} within the timeout: ` +
        `Ready=False (UpgradeFailed); ${FAILED.message}; lastAttemptedRevision ${VERSION}, history[0].chartVersion ${VERSION}`,
    );
  });

  test('a condition that comes to hold within the timeout passes', async () => {
    await helmRelease('becoming-ready', { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'Running upgrade' }, VERSION);
    const env = new MockActivityEnvironment();
    // The check heartbeats once it read the object and waits to read it again.
    const waiting = new Promise((resolve) => env.once('heartbeat', resolve));
    const checked = runCheck(activities, request('becoming-ready', { timeoutMs: 60_000 }), env);
    await waiting;
    await setStatus('becoming-ready', READY, VERSION);
    const result = await checked;
    assert.equal(result.passed, true);
    assert.ok((result.attempts ?? 0) >= 2, `read ${result.attempts} times`);
    assert.equal(result.samples[0]?.passed, true);
  });

  test('Ready, but for another version: it fails', async () => {
    await helmRelease('older', READY, '6.7.0');
    const result = await runCheck(activities, request('older'));
    assert.equal(result.passed, false);
    assert.match(result.why ?? '', /Ready=True \(UpgradeSucceeded\); lastAttemptedRevision 6\.7\.0, history\[0\]\.chartVersion 6\.7\.0$/);
  });

  test('a namespace that is neither the Pipeline’s nor a target’s cannot be read', async () => {
    const failure = await applicationFailure(runCheck(activities, request('ready', {}, ['team-a'])));
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.type, FailureType.verificationFailed);
    assert.equal(
      failure.message,
      `cannot read HelmRelease ${NAMESPACE}/ready: a check may read only the Pipeline's namespace and its targets' (team-a)`,
    );
  });

  test('a kind the cluster does not serve cannot run', async () => {
    const check = request('ready', {
      resource: { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', namespace: NAMESPACE, name: 'ready' },
    });
    const failure = await applicationFailure(runCheck(activities, check));
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.message, 'the cluster does not serve Kustomization in kustomize.toolkit.fluxcd.io/v1');
  });

  test('credentials RBAC refuses cannot run, saying so', async () => {
    const restricted = createVerificationActivities({
      pipelines: { getSecret: () => Promise.resolve(undefined) },
      kubeConfig: kube.restrictedKubeConfig,
    });
    const failure = await applicationFailure(runCheck(restricted, request('ready')));
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, new RegExp(`^cannot read HelmRelease ${NAMESPACE}/ready: HTTP 403: .*forbidden`));
  });

  test('without a Kubernetes connection (directory mode) the check cannot run', async () => {
    const offline = createVerificationActivities({ pipelines: { getSecret: () => Promise.resolve(undefined) } });
    const failure = await applicationFailure(runCheck(offline, request('ready')));
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /kubernetes checks need the worker in Kubernetes mode/);
  });
});
