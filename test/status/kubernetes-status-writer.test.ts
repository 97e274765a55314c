/**
 * KubernetesPipelineStatusWriter against a real kube-apiserver with the Pipeline CRD from
 * deploy/crds: waitingApproval set and cleared (only for the revision that still waits), writers for
 * different environments at once, the lastPromotion summary, and the printer columns `kubectl get
 * pipelines` shows, as the apiserver itself renders them (the Table API kubectl asks for).
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { CustomObjectsApi, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { pino } from 'pino';
import { PIPELINE_API_VERSION, PIPELINE_KIND } from '../../model/pipeline.js';
import { PIPELINE_RESOURCE } from '../../pipelines/kubernetes-source.js';
import { KubernetesPipelineStatusWriter } from '../../status/kubernetes-status-writer.js';
import type { PipelineStatusObject } from '../../status/pipeline-status.js';
import type { EnvironmentPromotionSummary } from '../../status/status-writer.js';
import { applyPipelineCrd, ensureNamespace, type KubeApiServer, startKubeApiServer } from '../infra/kube-apiserver.js';

const NAMESPACE = 'status-writer';
const ENVIRONMENTS = ['dev', 'qa', 'perf', 'staging', 'prod'];

interface Table {
  columnDefinitions: { name: string }[];
  rows: { cells: unknown[] }[];
}

void describe('KubernetesPipelineStatusWriter against a real kube-apiserver', () => {
  let kube: KubeApiServer;
  let crd: V1CustomResourceDefinition;
  let api: CustomObjectsApi;
  let writer: KubernetesPipelineStatusWriter;
  const log = pino({ level: 'silent' });

  async function createPipeline(name: string, environments = ENVIRONMENTS): Promise<void> {
    await api.createNamespacedCustomObject({
      ...PIPELINE_RESOURCE,
      namespace: NAMESPACE,
      fieldValidation: 'Strict',
      body: {
        apiVersion: PIPELINE_API_VERSION,
        kind: PIPELINE_KIND,
        metadata: { name, namespace: NAMESPACE },
        spec: {
          appRef: { apiVersion: 'helm.toolkit.fluxcd.io/v2beta1', kind: 'HelmRelease', name: 'podinfo' },
          environments: environments.map((env) => ({ name: env, targets: [{ namespace: `podinfo-${env}` }] })),
        },
      },
    });
  }

  async function status(name: string): Promise<NonNullable<PipelineStatusObject['status']> & Record<string, unknown>> {
    const object = (await api.getNamespacedCustomObject({ ...PIPELINE_RESOURCE, namespace: NAMESPACE, name })) as PipelineStatusObject;
    return object.status ?? {};
  }

  /** What `kubectl get pipelines` receives: the apiserver renders the CRD's printer columns. */
  function table(name: string): Promise<Record<string, unknown>> {
    const ca = Buffer.from(kube.kubeConfig.getCurrentCluster()!.caData!, 'base64');
    const path = `/apis/${PIPELINE_RESOURCE.group}/${PIPELINE_RESOURCE.version}/namespaces/${NAMESPACE}/${PIPELINE_RESOURCE.plural}/${name}`;
    return new Promise((resolve, reject) => {
      const req = request(
        `${kube.server}${path}`,
        { ca, headers: { authorization: `Bearer ${kube.token}`, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            if (res.statusCode !== 200) return reject(new Error(`${res.statusCode} ${text}`));
            const t = JSON.parse(text) as Table;
            const cells = t.rows[0]!.cells;
            resolve(Object.fromEntries(t.columnDefinitions.map((c, i) => [c.name, cells[i]])));
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  const summary = (version: string, state: string): EnvironmentPromotionSummary => ({
    version,
    state,
    workflowId: `release/${NAMESPACE}/podinfo/${version}`,
    pullRequest: 'https://github.com/my-org/my-app-repo/pull/7',
    at: '2025-01-02T03:04:05.000Z',
  });

  before(async () => {
    kube = await startKubeApiServer();
    crd = await applyPipelineCrd(kube.kubeConfig);
    await ensureNamespace(kube.kubeConfig, NAMESPACE);
    api = kube.kubeConfig.makeApiClient(CustomObjectsApi);
    writer = new KubernetesPipelineStatusWriter(kube.kubeConfig, log);
  });

  after(async () => {
    await kube?.stop();
  });

  void test('sets waitingApproval for one environment and keeps the kubectl summary', async () => {
    await createPipeline('set');
    const pipeline = { namespace: NAMESPACE, name: 'set' };
    await writer.write({ pipeline, environment: 'prod', waitingApproval: { revision: '6.7.1' } });
    let s = await status('set');
    assert.deepEqual(s.environments?.prod?.waitingApproval, { revision: '6.7.1' });
    assert.equal(s.waitingApprovals, 'prod=6.7.1');

    await writer.write({ pipeline, environment: 'dev', waitingApproval: { revision: '6.8.0' } });
    s = await status('set');
    assert.equal(s.waitingApprovals, 'dev=6.8.0,prod=6.7.1', 'in the order of the environments');
  });

  void test('clears waitingApproval only while it still names that revision', async () => {
    await createPipeline('clear');
    const pipeline = { namespace: NAMESPACE, name: 'clear' };
    await writer.write({ pipeline, environment: 'prod', waitingApproval: { revision: '6.7.1' } });
    // A newer version took its place before the older one cleaned up.
    await writer.write({ pipeline, environment: 'prod', waitingApproval: { revision: '6.7.2' } });
    await writer.write({ pipeline, environment: 'prod', clearWaitingApproval: '6.7.1' });
    let s = await status('clear');
    assert.deepEqual(s.environments?.prod?.waitingApproval, { revision: '6.7.2' });
    assert.equal(s.waitingApprovals, 'prod=6.7.2');

    await writer.write({ pipeline, environment: 'prod', clearWaitingApproval: '6.7.2', lastPromotion: summary('6.7.2', 'Promoted') });
    s = await status('clear');
    assert.equal(s.environments?.prod?.waitingApproval, undefined);
    assert.equal(s.waitingApprovals, undefined);
    assert.deepEqual((s.environments?.prod as { lastPromotion?: unknown }).lastPromotion, summary('6.7.2', 'Promoted'));
  });

  void test('writers for different environments at once never overwrite each other', async () => {
    await createPipeline('concurrent');
    const pipeline = { namespace: NAMESPACE, name: 'concurrent' };
    await Promise.all(
      ENVIRONMENTS.flatMap((env, i) => [
        writer.write({ pipeline, environment: env, waitingApproval: { revision: `1.${i}.0` } }),
        writer.write({ pipeline, environment: env, lastPromotion: summary(`1.${i}.0`, 'AwaitingApproval') }),
      ]),
    );
    const s = await status('concurrent');
    for (const [i, env] of ENVIRONMENTS.entries()) {
      assert.deepEqual(s.environments?.[env]?.waitingApproval, { revision: `1.${i}.0` }, env);
      assert.deepEqual((s.environments?.[env] as { lastPromotion?: unknown }).lastPromotion, summary(`1.${i}.0`, 'AwaitingApproval'), env);
    }
    assert.equal(s.waitingApprovals, ENVIRONMENTS.map((env, i) => `${env}=1.${i}.0`).join(','));

    // And clearing them all at once leaves nothing waiting.
    await Promise.all(ENVIRONMENTS.map((env, i) => writer.write({ pipeline, environment: env, clearWaitingApproval: `1.${i}.0` })));
    const cleared = await status('concurrent');
    assert.equal(cleared.waitingApprovals, undefined);
    for (const env of ENVIRONMENTS) assert.equal(cleared.environments?.[env]?.waitingApproval, undefined, env);
  });

  void test('a Pipeline that is gone is not an error', async () => {
    await writer.write({
      pipeline: { namespace: NAMESPACE, name: 'never-existed' },
      environment: 'prod',
      waitingApproval: { revision: '1.0.0' },
    });
    await writer.write({
      pipeline: { namespace: NAMESPACE, name: 'never-existed' },
      environment: 'prod',
      lastPromotion: summary('1.0.0', 'Promoted'),
    });
  });

  void test('a forbidden write is a non-retryable failure naming the missing verb', async () => {
    await createPipeline('forbidden');
    const restricted = new KubernetesPipelineStatusWriter(kube.restrictedKubeConfig, log);
    const pipeline = { namespace: NAMESPACE, name: 'forbidden' };
    await assert.rejects(
      restricted.write({ pipeline, environment: 'prod', lastPromotion: summary('1.0.0', 'Promoted') }),
      (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, /RBAC: baton needs patch on pipelines\/status/);
        return true;
      },
    );
    await assert.rejects(restricted.write({ pipeline, environment: 'prod', waitingApproval: { revision: '1.0.0' } }), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /RBAC: baton needs get on pipelines/);
      return true;
    });
  });

  void test('kubectl get pipelines shows app, environments, waiting approvals, Ready and age', async () => {
    const columns = crd.spec.versions.find((v) => v.name === 'v1alpha1')?.additionalPrinterColumns ?? [];
    assert.deepEqual(
      columns.map((c) => [c.name, c.jsonPath]),
      [
        ['App', '.spec.appRef.name'],
        ['Environments', '.status.environmentNames'],
        ['Waiting', '.status.waitingApprovals'],
        ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
        ['Age', '.metadata.creationTimestamp'],
      ],
    );
    await createPipeline('columns', ['dev', 'prod']);
    const pipeline = { namespace: NAMESPACE, name: 'columns' };
    await writer.write({ pipeline, environment: 'prod', waitingApproval: { revision: '6.7.1' } });
    // environmentNames and Ready are the status controller's (test/pipelines/status-controller.test.ts).
    await api.patchNamespacedCustomObjectStatus({
      ...PIPELINE_RESOURCE,
      namespace: NAMESPACE,
      name: 'columns',
      body: [
        { op: 'add', path: '/status/environmentNames', value: 'dev,prod' },
        {
          op: 'add',
          path: '/status/conditions',
          value: [
            { type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' },
          ],
        },
      ],
    });
    const row = await table('columns');
    assert.equal(row.Name, 'columns');
    assert.equal(row.App, 'podinfo');
    assert.equal(row.Environments, 'dev,prod');
    assert.equal(row.Waiting, 'prod=6.7.1');
    assert.equal(row.Ready, 'True');
    assert.equal(typeof row.Age, 'string');
  });
});
