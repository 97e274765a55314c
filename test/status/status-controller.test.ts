/**
 * PipelineStatusController against a real kube-apiserver: the Ready condition as Weave computed it
 * from the referenced GitopsClusters (test/fixtures/crds/gitopsclusters.yaml stands in for Weave's
 * CRD), including a GitopsCluster that appears later and becomes Ready; observedGeneration; a change
 * window annotation that cannot be read.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiextensionsV1Api, CustomObjectsApi, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parse } from 'yaml';
import { PIPELINE_API_VERSION, PIPELINE_KIND } from '../../model/pipeline.js';
import { PIPELINE_RESOURCE } from '../../pipelines/kubernetes-source.js';
import type { PipelineStatusObject } from '../../status/pipeline-status.js';
import { GITOPS_CLUSTER_RESOURCE } from '../../status/ready-condition.js';
import { PipelineStatusController } from '../../status/status-controller.js';
import { applyPipelineCrd, ensureNamespace, eventually, type KubeApiServer, startKubeApiServer } from '../infra/kube-apiserver.js';

const NAMESPACE = 'status-controller';
const CLUSTER_NAMESPACE = 'flux-system';
const GITOPS_CLUSTER_CRD = new URL('../fixtures/crds/gitopsclusters.yaml', import.meta.url);

async function applyGitopsClusterCrd(kube: KubeApiServer): Promise<void> {
  const api = kube.kubeConfig.makeApiClient(ApiextensionsV1Api);
  const body = parse(await readFile(GITOPS_CLUSTER_CRD, 'utf8')) as V1CustomResourceDefinition;
  await api.createCustomResourceDefinition({ body, fieldValidation: 'Strict' });
  await eventually('the GitopsCluster CRD is Established', async () => {
    const crd = await api.readCustomResourceDefinition({ name: body.metadata!.name! });
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
}

void describe('PipelineStatusController against a real kube-apiserver', () => {
  let kube: KubeApiServer;
  let api: CustomObjectsApi;
  let controller: PipelineStatusController;

  function pipelineBody(name: string, targets: object[]) {
    return {
      apiVersion: PIPELINE_API_VERSION,
      kind: PIPELINE_KIND,
      metadata: { name, namespace: NAMESPACE },
      spec: {
        appRef: { apiVersion: 'helm.toolkit.fluxcd.io/v2beta1', kind: 'HelmRelease', name: 'podinfo' },
        environments: [
          { name: 'dev', targets: [{ namespace: 'podinfo-dev' }] },
          { name: 'prod', targets },
        ],
      },
    };
  }

  async function read(name: string): Promise<PipelineStatusObject> {
    return (await api.getNamespacedCustomObject({ ...PIPELINE_RESOURCE, namespace: NAMESPACE, name })) as PipelineStatusObject;
  }

  function readyReason(name: string, reason: string): Promise<PipelineStatusObject> {
    return eventually(`Pipeline ${name} Ready reason ${reason}`, async () => {
      const object = await read(name);
      const ready = object.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.reason === reason ? object : undefined;
    });
  }

  function setClusterReady(name: string, status: 'True' | 'False') {
    return api.patchNamespacedCustomObjectStatus({
      ...GITOPS_CLUSTER_RESOURCE,
      namespace: CLUSTER_NAMESPACE,
      name,
      body: [
        {
          op: 'add',
          path: '/status',
          value: { conditions: [{ type: 'Ready', status, reason: 'Test', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' }] },
        },
      ],
    });
  }

  before(async () => {
    kube = await startKubeApiServer();
    await applyPipelineCrd(kube.kubeConfig);
    await ensureNamespace(kube.kubeConfig, NAMESPACE);
    await ensureNamespace(kube.kubeConfig, CLUSTER_NAMESPACE);
    api = kube.kubeConfig.makeApiClient(CustomObjectsApi);
  });

  after(async () => {
    await controller?.stop();
    await kube?.stop();
  });

  void test('without the GitopsCluster CRD, a referenced cluster is not found', async () => {
    controller = new PipelineStatusController(kube.kubeConfig, pino({ level: process.env.BATON_TEST_LOG ?? 'silent' }), {
      reconnectDelayMs: 100,
      requeueDelayMs: 100,
      missingCrdRetryMs: 200,
    });
    await controller.start();
    await api.createNamespacedCustomObject({
      ...PIPELINE_RESOURCE,
      namespace: NAMESPACE,
      body: pipelineBody('remote', [
        { namespace: 'podinfo-prod', clusterRef: { kind: 'GitopsCluster', name: 'prod', namespace: CLUSTER_NAMESPACE } },
      ]),
    });
    const object = await readyReason('remote', 'TargetClusterNotFound');
    const ready = object.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.match(ready?.message ?? '', /flux-system\/prod/);
    assert.equal(object.status?.observedGeneration, object.metadata?.generation);
    assert.equal(object.status?.environmentNames, 'dev,prod');
  });

  void test('a GitopsCluster that appears later: NotFound → NotReady → ReconciliationSucceeded', async () => {
    await applyGitopsClusterCrd(kube);
    await sleep(300); // the controller looks for the CRD again (missingCrdRetryMs)
    await api.createNamespacedCustomObject({
      ...GITOPS_CLUSTER_RESOURCE,
      namespace: CLUSTER_NAMESPACE,
      body: {
        apiVersion: 'gitops.weave.works/v1alpha1',
        kind: 'GitopsCluster',
        metadata: { name: 'prod', namespace: CLUSTER_NAMESPACE },
        spec: {},
      },
    });
    const notReady = await readyReason('remote', 'TargetClusterNotReady');
    assert.equal(notReady.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');

    await setClusterReady('prod', 'True');
    const ready = await readyReason('remote', 'ReconciliationSucceeded');
    assert.equal(ready.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');

    await setClusterReady('prod', 'False');
    await readyReason('remote', 'TargetClusterNotReady');
    await setClusterReady('prod', 'True');
    await readyReason('remote', 'ReconciliationSucceeded');
  });

  void test('observedGeneration follows the generation', async () => {
    const before = await read('remote');
    const generation = before.metadata!.generation!;
    await api.patchNamespacedCustomObject({
      ...PIPELINE_RESOURCE,
      namespace: NAMESPACE,
      name: 'remote',
      body: [{ op: 'add', path: '/spec/environments/-', value: { name: 'dr', targets: [{ namespace: 'podinfo-dr' }] } }],
    });
    const after = await eventually('observedGeneration catches up', async () => {
      const object = await read('remote');
      return object.status?.observedGeneration === generation + 1 ? object : undefined;
    });
    assert.equal(after.metadata?.generation, generation + 1);
    assert.equal(after.status?.environmentNames, 'dev,prod,dr');
    assert.equal(after.status?.conditions?.find((c) => c.type === 'Ready')?.observedGeneration, generation + 1);
  });

  void test('a clusterRef without namespace names a GitopsCluster in the Pipeline namespace', async () => {
    await api.createNamespacedCustomObject({
      ...PIPELINE_RESOURCE,
      namespace: NAMESPACE,
      body: pipelineBody('same-namespace', [{ namespace: 'podinfo-prod', clusterRef: { kind: 'GitopsCluster', name: 'prod' } }]),
    });
    // `prod` exists in flux-system only.
    const object = await readyReason('same-namespace', 'TargetClusterNotFound');
    assert.match(object.status?.conditions?.[0]?.message ?? '', new RegExp(`${NAMESPACE}/prod`));
  });

  void test('a Pipeline with only local targets is ReconciliationSucceeded', async () => {
    await api.createNamespacedCustomObject({
      ...PIPELINE_RESOURCE,
      namespace: NAMESPACE,
      body: pipelineBody('local', [{ namespace: 'podinfo-prod' }]),
    });
    const object = await readyReason('local', 'ReconciliationSucceeded');
    assert.equal(object.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(object.status?.observedGeneration, 1);
  });

  void test('a change window that cannot be read is Ready=False InvalidPromotionPolicy, naming the annotation, until it is fixed', async () => {
    const body = pipelineBody('bad-window', [{ namespace: 'podinfo-prod' }]);
    const annotation = 'promotion.baton.dev/window.prod';
    Object.assign(body.metadata, { annotations: { [annotation]: 'Mon-Fri 09:00-17:00 Europe/Berln' } });
    await api.createNamespacedCustomObject({ ...PIPELINE_RESOURCE, namespace: NAMESPACE, body });
    const invalid = await readyReason('bad-window', 'InvalidPromotionPolicy');
    const ready = invalid.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(
      ready?.message,
      `Invalid promotion policy: annotation ${annotation}: "Mon-Fri 09:00-17:00 Europe/Berln": ` +
        '"Europe/Berln" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)',
    );

    await api.patchNamespacedCustomObject({
      ...PIPELINE_RESOURCE,
      namespace: NAMESPACE,
      name: 'bad-window',
      body: [{ op: 'replace', path: `/metadata/annotations/${annotation.replace('/', '~1')}`, value: 'Mon-Fri 09:00-17:00 Europe/Berlin' }],
    });
    await readyReason('bad-window', 'ReconciliationSucceeded');
  });

  void test('a soak time that cannot be read is Ready=False InvalidPromotionPolicy, naming the annotation', async () => {
    const body = pipelineBody('bad-soak', [{ namespace: 'podinfo-prod' }]);
    const annotation = 'promotion.baton.dev/soak.dev';
    Object.assign(body.metadata, { annotations: { [annotation]: '2 hours please' } });
    await api.createNamespacedCustomObject({ ...PIPELINE_RESOURCE, namespace: NAMESPACE, body });
    const invalid = await readyReason('bad-soak', 'InvalidPromotionPolicy');
    const ready = invalid.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(
      ready?.message,
      `Invalid promotion policy: annotation ${annotation}: "2 hours please": not a duration (e.g. 2h, 90m, 1d, "30 minutes")`,
    );
  });
});
