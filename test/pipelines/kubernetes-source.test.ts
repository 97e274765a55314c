/**
 * KubernetesPipelineSource against a real etcd + kube-apiserver with the Pipeline CRD from
 * deploy/crds: the manifests users already have are created unchanged, the same way kubectl does.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, CustomObjectsApi, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { type Logger, pino } from 'pino';
import { parse } from 'yaml';
import { PIPELINE_GROUP, type PipelineSpec } from '../../model/pipeline.js';
import { KubernetesPipelineSource } from '../../pipelines/kubernetes-source.js';
import { loadKubeConfig } from '../../pipelines/kube-config.js';
import { applyPipelineCrd, ensureNamespace, eventually, type KubeApiServer, startKubeApiServer } from '../infra/kube-apiserver.js';

const FIXTURE = new URL('../fixtures/pipelines/podinfo-02-pull-request.yaml', import.meta.url);
const EXAMPLE = new URL('../../examples/pipelines/podinfo-02.yaml', import.meta.url);
const NAMESPACE = 'flux-system';
const pipelines = { group: PIPELINE_GROUP, version: 'v1alpha1', plural: 'pipelines' } as const;

interface PipelineManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string };
  spec: PipelineSpec;
}

interface LogRecord {
  level: number;
  msg: string;
  namespace?: string;
  name?: string;
  problems?: string[];
}

async function manifest(url: URL): Promise<PipelineManifest> {
  return parse(await readFile(url, 'utf8')) as PipelineManifest;
}

function capturingLogger(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => records.push(JSON.parse(line) as LogRecord) });
  return { log, records };
}

void describe('KubernetesPipelineSource against a real kube-apiserver', () => {
  let kube: KubeApiServer;
  let crd: V1CustomResourceDefinition;
  let customObjects: CustomObjectsApi;
  let core: CoreV1Api;
  let source: KubernetesPipelineSource;
  const logs = capturingLogger();

  /** What `kubectl create -f` sends: the manifest as written, unknown fields refused (--validate=strict). */
  function kubectlCreate(body: PipelineManifest, options: { dryRun?: 'All' } = {}): Promise<PipelineManifest> {
    const { namespace } = body.metadata;
    return customObjects.createNamespacedCustomObject({
      ...pipelines,
      namespace,
      body,
      fieldValidation: 'Strict',
      ...options,
    }) as Promise<PipelineManifest>;
  }

  before(async () => {
    kube = await startKubeApiServer();
    crd = await applyPipelineCrd(kube.kubeConfig);
    await ensureNamespace(kube.kubeConfig, NAMESPACE);
    // The product's own loader, pointed at the kubeconfig file the test server wrote.
    const kubeConfig = loadKubeConfig({ path: kube.kubeconfigPath });
    customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
    core = kubeConfig.makeApiClient(CoreV1Api);
    source = new KubernetesPipelineSource(kubeConfig, logs.log, {
      secretTtlMs: 10 * 60_000,
      reconnectDelayMs: 200,
      maxReconnectDelayMs: 1_000,
    });
  });

  after(async () => {
    await source?.stop();
    await kube?.stop();
  });

  void test('the Pipeline CRD from deploy/crds is Established', () => {
    const established = crd.status?.conditions?.find((c) => c.type === 'Established');
    assert.equal(established?.status, 'True');
    assert.equal(crd.spec.names.kind, 'Pipeline');
  });

  void test('examples/pipelines/podinfo-02.yaml passes the CRD schema with strict field validation', async () => {
    const example = await manifest(EXAMPLE);
    const accepted = await kubectlCreate(example, { dryRun: 'All' });
    assert.deepEqual(accepted.spec, example.spec);
  });

  void test('the pull-request Pipeline of the API reference is stored unchanged', async () => {
    const fixture = await manifest(FIXTURE);
    const created = await kubectlCreate(fixture);
    assert.deepEqual(created.spec, fixture.spec);
    assert.equal(created.metadata.name, 'podinfo-02');
  });

  void test('start() resolves after the first sync and the source serves the Pipeline from its cache', async () => {
    await source.start();
    assert.equal(source.isSynced(), true);
    const fixture = await manifest(FIXTURE);
    const stored = (await customObjects.getNamespacedCustomObject({
      ...pipelines,
      namespace: NAMESPACE,
      name: 'podinfo-02',
    })) as PipelineManifest;
    const pipeline = source.getPipeline({ namespace: NAMESPACE, name: 'podinfo-02' });
    assert.ok(pipeline, 'podinfo-02 is in the cache');
    assert.deepEqual(pipeline.spec, fixture.spec);
    assert.equal(pipeline.uid, stored.metadata.uid);
    assert.equal(pipeline.spec.promotion?.strategy['pull-request']?.type, 'github');
  });

  void test('an update is seen through the watch', async () => {
    const stored = (await customObjects.getNamespacedCustomObject({
      ...pipelines,
      namespace: NAMESPACE,
      name: 'podinfo-02',
    })) as PipelineManifest;
    const pullRequest = stored.spec.promotion?.strategy['pull-request'];
    assert.ok(pullRequest);
    pullRequest.baseBranch = 'release';
    await customObjects.replaceNamespacedCustomObject({ ...pipelines, namespace: NAMESPACE, name: 'podinfo-02', body: stored });
    const updated = await eventually('the new baseBranch', () => {
      const spec = source.getPipeline({ namespace: NAMESPACE, name: 'podinfo-02' })?.spec;
      return spec?.promotion?.strategy['pull-request']?.baseBranch === 'release' && spec;
    });
    assert.equal(updated.environments.length, 3);
  });

  void test('a Pipeline the CRD accepts but Baton cannot use is skipped and its problems logged', async () => {
    const fixture = await manifest(FIXTURE);
    const [dev, test] = fixture.spec.environments;
    assert.ok(dev && test);
    // The schema cannot say that environment names are unique; pipelineFromManifest does.
    const body: PipelineManifest = {
      ...fixture,
      metadata: { name: 'twice-dev', namespace: NAMESPACE },
      spec: { ...fixture.spec, environments: [dev, { ...test, name: 'dev' }] },
    };
    await kubectlCreate(body);
    const record = await eventually('the invalid Pipeline to be logged', () =>
      logs.records.find((r) => r.name === 'twice-dev' && r.namespace === NAMESPACE),
    );
    assert.equal(record.level, pino.levels.values.error);
    assert.deepEqual(record.problems, ["spec.environments[1].name: 'dev' is defined twice"]);
    assert.match(record.msg, /flux-system\/twice-dev/);
    assert.equal(source.getPipeline({ namespace: NAMESPACE, name: 'twice-dev' }), undefined);
    assert.deepEqual(source.invalidPipelines(), [
      { namespace: NAMESPACE, name: 'twice-dev', problems: ["spec.environments[1].name: 'dev' is defined twice"] },
    ]);
    assert.ok(source.getPipeline({ namespace: NAMESPACE, name: 'podinfo-02' }), 'the valid Pipeline is still served');
    assert.equal(source.isSynced(), true);
  });

  void test('a deleted Pipeline disappears from the cache', async () => {
    await customObjects.deleteNamespacedCustomObject({ ...pipelines, namespace: NAMESPACE, name: 'twice-dev' });
    await customObjects.deleteNamespacedCustomObject({ ...pipelines, namespace: NAMESPACE, name: 'podinfo-02' });
    await eventually('podinfo-02 to be removed', () => source.getPipeline({ namespace: NAMESPACE, name: 'podinfo-02' }) === undefined);
    assert.deepEqual(source.invalidPipelines(), []);
  });

  void test('Secrets are read by name and decoded; a missing Secret is undefined', async () => {
    await core.createNamespacedSecret({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'podinfo-02-webhook' },
        data: { 'hmac-key': Buffer.from('key-from-data').toString('base64') },
        stringData: { token: 'token-from-stringData' },
      },
    });
    const secret = await source.getSecret(NAMESPACE, 'podinfo-02-webhook');
    assert.equal(secret?.['hmac-key']?.toString('utf8'), 'key-from-data');
    assert.equal(secret?.token?.toString('utf8'), 'token-from-stringData');
    assert.equal(await source.getSecret(NAMESPACE, 'github-credentials'), undefined);
    assert.equal(await source.getSecret('no-such-namespace', 'podinfo-02-webhook'), undefined);
  });

  void test('a Secret read is reused until its TTL ends, so the webhook path does not call the API each time', async () => {
    const before = await source.getSecret(NAMESPACE, 'podinfo-02-webhook');
    await core.replaceNamespacedSecret({
      name: 'podinfo-02-webhook',
      namespace: NAMESPACE,
      body: { metadata: { name: 'podinfo-02-webhook' }, data: { 'hmac-key': Buffer.from('rotated').toString('base64') } },
    });
    const after = await source.getSecret(NAMESPACE, 'podinfo-02-webhook');
    assert.equal(after, before, 'the same cached object');
    assert.equal(after?.['hmac-key']?.toString('utf8'), 'key-from-data');

    const fresh = new KubernetesPipelineSource(kube.kubeConfig, logs.log, { secretTtlMs: 0 });
    assert.equal((await fresh.getSecret(NAMESPACE, 'podinfo-02-webhook'))?.['hmac-key']?.toString('utf8'), 'rotated');
  });

  void test('Secret reads Kubernetes refuses are errors naming the missing permission, not "no Secret"', async () => {
    const restricted = new KubernetesPipelineSource(kube.restrictedKubeConfig, logs.log);
    await assert.rejects(restricted.getSecret(NAMESPACE, 'podinfo-02-webhook'), /RBAC: baton needs get on secrets in flux-system/);
  });

  void test('after kube-apiserver restarts the watch reconnects and later changes are seen', async () => {
    await kube.restartApiServer();
    const fixture = await manifest(FIXTURE);
    await kubectlCreate({ ...fixture, metadata: { name: 'after-restart', namespace: NAMESPACE } });
    await eventually('the Pipeline created after the restart', () => source.getPipeline({ namespace: NAMESPACE, name: 'after-restart' }));
    await eventually('the source to report synced', () => source.isSynced());
  });
});
