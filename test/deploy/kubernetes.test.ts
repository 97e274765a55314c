/**
 * deploy/ against a real kube-apiserver: Baton's Kubernetes code does its job with nothing but the
 * chart's RBAC and cannot do more, the gateway's ServiceAccount far less than the worker's; the
 * examples pass strict field validation; Flux's Alert CRD takes `kind: Pipeline` with the
 * flux-system patch; every object the chart renders is valid.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  AuthorizationV1Api,
  CoreV1Api,
  type CoreV1Event,
  CustomObjectsApi,
  KubeConfig,
  type V1ResourceAttributes,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { parse } from 'yaml';
import { createKubernetesEventNotifier } from '../../activities/notify/kubernetes-event.js';
import { promotionMessage } from '../../activities/notify/notifier.js';
import { KubernetesPipelineSource } from '../../pipelines/kubernetes-source.js';
import { KubernetesPipelineStatusWriter } from '../../status/kubernetes-status-writer.js';
import { serverBinary } from '../infra/binaries.js';
import { applyPipelineCrd, ensureNamespace, eventually, type KubeApiServer, startKubeApiServer } from '../infra/kube-apiserver.js';
import { EXAMPLES, helmTemplate, type Manifest, readDocuments, serviceAccountOf, yamlFilesUnder } from './chart-files.js';

const RELEASE_NAMESPACE = 'baton-system';
/** The chart's RBAC is applied for real under this name, apart from the dry-run objects below. */
const RBAC_RELEASE = 'baton-rbac';
/** Where the helm-rendered chart is validated: apart from the service account the tests create. */
const HELM_NAMESPACE = 'baton-helm';
const NAMESPACES = [RELEASE_NAMESPACE, HELM_NAMESPACE, 'flux-system', 'podinfo-02-dev', 'team-a'];

/** Where each kind the chart and the examples hold is served. */
const RESOURCES: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  'v1/Secret': { prefix: '/api/v1', plural: 'secrets', namespaced: true },
  'v1/Service': { prefix: '/api/v1', plural: 'services', namespaced: true },
  'v1/ServiceAccount': { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  'apps/v1/Deployment': { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  'policy/v1/PodDisruptionBudget': { prefix: '/apis/policy/v1', plural: 'poddisruptionbudgets', namespaced: true },
  'networking.k8s.io/v1/Ingress': { prefix: '/apis/networking.k8s.io/v1', plural: 'ingresses', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRole': { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': {
    prefix: '/apis/rbac.authorization.k8s.io/v1',
    plural: 'clusterrolebindings',
    namespaced: false,
  },
  'rbac.authorization.k8s.io/v1/Role': { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'roles', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings', namespaced: true },
  'pipelines.weave.works/v1alpha1/Pipeline': { prefix: '/apis/pipelines.weave.works/v1alpha1', plural: 'pipelines', namespaced: true },
  'notification.toolkit.fluxcd.io/v1beta2/Alert': {
    prefix: '/apis/notification.toolkit.fluxcd.io/v1beta2',
    plural: 'alerts',
    namespaced: true,
  },
  'notification.toolkit.fluxcd.io/v1beta3/Alert': {
    prefix: '/apis/notification.toolkit.fluxcd.io/v1beta3',
    plural: 'alerts',
    namespaced: true,
  },
};

interface ApiAnswer {
  status: number;
  message: string;
}

/** POSTs `object` as the admin, the way `kubectl create --validate=strict` does. */
function create(kube: KubeApiServer, object: Manifest, options: { dryRun?: boolean; namespace?: string } = {}): Promise<ApiAnswer> {
  const resource = RESOURCES[`${object.apiVersion}/${object.kind}`];
  if (resource === undefined) throw new Error(`no resource known for ${object.apiVersion} ${object.kind}`);
  const namespace = object.metadata.namespace ?? options.namespace ?? RELEASE_NAMESPACE;
  const path = `${resource.prefix}${resource.namespaced ? `/namespaces/${namespace}` : ''}/${resource.plural}`;
  const query = `fieldValidation=Strict${options.dryRun === false ? '' : '&dryRun=All'}`;
  const ca = Buffer.from(kube.kubeConfig.getCurrentCluster()!.caData!, 'base64');
  const body = JSON.stringify(object);
  return new Promise((resolve, reject) => {
    const req = request(
      `${kube.server}${path}?${query}`,
      { method: 'POST', ca, headers: { authorization: `Bearer ${kube.token}`, 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let message = text;
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? text;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, message });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function createOk(kube: KubeApiServer, object: Manifest, options: { dryRun?: boolean; namespace?: string } = {}): Promise<void> {
  const answer = await create(kube, object, options);
  assert.ok(answer.status === 201 || answer.status === 200, `${object.kind} ${object.metadata.name}: ${answer.status} ${answer.message}`);
}

/** The chart's ServiceAccounts and RBAC, as Helm renders them, named after RBAC_RELEASE. */
function chartRbac(): Manifest[] {
  return helmTemplate(serverBinary('helm'), ['--set', `fullnameOverride=${RBAC_RELEASE}`], RELEASE_NAMESPACE).filter((d) =>
    ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment'].includes(d.kind),
  );
}

function serviceAccountKubeConfig(admin: KubeConfig, user: string, token: string): KubeConfig {
  const cluster = admin.getCurrentCluster()!;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'baton-test', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: user, token }],
    contexts: [{ name: 'baton-test', cluster: 'baton-test', user }],
    currentContext: 'baton-test',
  });
  return kubeConfig;
}

function example(relativePath: string): Manifest[] {
  return readDocuments<Manifest>(join(EXAMPLES, 'flux', relativePath));
}

async function forbidden(call: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(call, (error: unknown) => error instanceof ApiException && error.code === 403, `${what} is forbidden`);
}

/** The Flux event source kinds of the notification-controller's Alert CRD. */
const FLUX_SOURCE_KINDS = [
  'Bucket',
  'GitRepository',
  'Kustomization',
  'HelmRelease',
  'HelmChart',
  'HelmRepository',
  'ImageRepository',
  'ImagePolicy',
  'ImageUpdateAutomation',
  'OCIRepository',
];

/**
 * A reduced stand-in for Flux's alerts.notification.toolkit.fluxcd.io CRD with the same layout as
 * the one current Flux releases install: versions [v1beta2 (deprecated), v1beta3 (storage)], each
 * restricting eventSources[].kind to Flux's own kinds. Only what the patch and the examples touch.
 */
function fluxAlertCrd(): Record<string, unknown> {
  const schema = () => ({
    openAPIV3Schema: {
      type: 'object',
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object' },
        spec: {
          type: 'object',
          required: ['eventSources', 'providerRef'],
          properties: {
            eventMetadata: { type: 'object', additionalProperties: { type: 'string' } },
            eventSeverity: { type: 'string', enum: ['info', 'error'], default: 'info' },
            eventSources: {
              type: 'array',
              items: {
                type: 'object',
                required: ['kind', 'name'],
                properties: {
                  apiVersion: { type: 'string' },
                  kind: { type: 'string', enum: [...FLUX_SOURCE_KINDS] },
                  matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
                  name: { type: 'string', minLength: 1, maxLength: 253 },
                  namespace: { type: 'string', minLength: 1, maxLength: 253 },
                },
              },
            },
            exclusionList: { type: 'array', items: { type: 'string' } },
            inclusionList: { type: 'array', items: { type: 'string' } },
            providerRef: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
            summary: { type: 'string', maxLength: 255 },
            suspend: { type: 'boolean' },
          },
        },
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  });
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'alerts.notification.toolkit.fluxcd.io' },
    spec: {
      group: 'notification.toolkit.fluxcd.io',
      names: { kind: 'Alert', listKind: 'AlertList', plural: 'alerts', singular: 'alert' },
      scope: 'Namespaced',
      versions: [
        { name: 'v1beta2', served: true, storage: false, deprecated: true, schema: schema(), subresources: { status: {} } },
        { name: 'v1beta3', served: true, storage: true, schema: schema(), subresources: {} },
      ],
    },
  };
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
}

/** RFC 6902 `test` and `add` (what the flux-system patch uses), applied in place. */
function applyJsonPatch(document: unknown, ops: JsonPatchOp[]): void {
  for (const { op, path, value } of ops) {
    const keys = path
      .split('/')
      .slice(1)
      .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop()!;
    let parent = document as Record<string, unknown>;
    for (const key of keys) {
      const next = parent[key];
      if (next === null || typeof next !== 'object') throw new Error(`${op} ${path}: no ${key}`);
      parent = next as Record<string, unknown>;
    }
    if (op === 'test') {
      if (JSON.stringify(parent[last]) !== JSON.stringify(value))
        throw new Error(`test ${path}: ${JSON.stringify(parent[last])} is not ${JSON.stringify(value)}`);
    } else if (op === 'add') {
      if (Array.isArray(parent) && last === '-') parent.push(value);
      else parent[last] = value;
    } else {
      throw new Error(`unsupported op ${op}`);
    }
  }
}

function fluxSystemPatch(): JsonPatchOp[] {
  const [kustomization] = example('management-cluster/flux-system/kustomization.yaml') as unknown as { patches: { patch: string }[] }[];
  return parse(kustomization!.patches[0]!.patch) as JsonPatchOp[];
}

async function applyAlertCrd(kube: KubeApiServer, crd: Record<string, unknown>): Promise<void> {
  const ca = Buffer.from(kube.kubeConfig.getCurrentCluster()!.caData!, 'base64');
  const name = 'alerts.notification.toolkit.fluxcd.io';
  // Server-side apply: creates or replaces the whole spec.
  await new Promise<void>((resolve, reject) => {
    const req = request(
      `${kube.server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=baton-test&force=true`,
      { method: 'PATCH', ca, headers: { authorization: `Bearer ${kube.token}`, 'content-type': 'application/apply-patch+yaml' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          res.statusCode === 200 || res.statusCode === 201
            ? resolve()
            : reject(new Error(`applying the Alert CRD: ${res.statusCode} ${text}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(crd));
  });
}

function alertFor(version: string, kind: string, name: string): Manifest {
  return {
    apiVersion: `notification.toolkit.fluxcd.io/${version}`,
    kind: 'Alert',
    metadata: { name: `probe-${version}-${kind.toLowerCase()}`, namespace: 'flux-system' },
    spec: { providerRef: { name: 'probe' }, eventSources: [{ kind, name }] },
  };
}

/** Waits until the apiserver's answer to a dry-run create of `object` is (or is not) a success. */
async function settlesTo(kube: KubeApiServer, object: Manifest, accepted: boolean): Promise<ApiAnswer> {
  return eventually(`${object.apiVersion} ${object.kind} ${accepted ? 'accepted' : 'rejected'}`, async () => {
    const answer = await create(kube, object);
    const ok = answer.status === 201 || answer.status === 200;
    return ok === accepted && answer.status !== 404 ? answer : undefined;
  });
}

type Component = 'gateway' | 'worker';

/** A SubjectAccessReview question: `verb group/resource[/subresource]` in `namespace`. */
type Access = [verb: string, resource: string, namespace?: string, name?: string];

function attributesOf([verb, resource, namespace, name]: Access): V1ResourceAttributes {
  const [groupAndResource, subresource] = resource.split('/status');
  const dot = groupAndResource!.indexOf('.');
  return {
    verb,
    resource: dot < 0 ? groupAndResource : groupAndResource!.slice(0, dot),
    group: dot < 0 ? '' : groupAndResource!.slice(dot + 1),
    ...(subresource === undefined ? {} : { subresource: 'status' }),
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? {} : { name }),
  };
}

/** Everything both components need, and may do. */
const BOTH_ALLOWED: Access[] = [
  ['get', 'secrets', 'flux-system', 'promotion-podinfo-02'],
  ['get', 'secrets', 'team-a', 'git-credentials'],
  ['get', 'pipelines.pipelines.weave.works', 'flux-system', 'podinfo-02'],
  ['list', 'pipelines.pipelines.weave.works'],
  ['watch', 'pipelines.pipelines.weave.works'],
];

/** What neither may do: Secrets beyond one by name, Pipeline specs, anything else. */
const BOTH_FORBIDDEN: Access[] = [
  ['list', 'secrets', 'team-a'],
  ['list', 'secrets'],
  ['watch', 'secrets', 'team-a'],
  ['create', 'secrets', 'team-a'],
  ['update', 'pipelines.pipelines.weave.works', 'flux-system', 'podinfo-02'],
  ['patch', 'pipelines.pipelines.weave.works', 'flux-system', 'podinfo-02'],
  ['delete', 'pipelines.pipelines.weave.works', 'flux-system', 'podinfo-02'],
  ['update', 'pipelines.pipelines.weave.works/status', 'flux-system', 'podinfo-02'],
  ['patch', 'events', 'flux-system'],
  ['get', 'configmaps', 'flux-system'],
  ['create', 'pods', 'flux-system'],
];

/** Only the worker: Pipeline status, Promote Events, GitopsClusters (status controller). */
const WORKER_ONLY: Access[] = [
  ['patch', 'pipelines.pipelines.weave.works/status', 'flux-system', 'podinfo-02'],
  ['create', 'events', 'flux-system'],
  ['create', 'events', 'team-a'],
  ['list', 'gitopsclusters.gitops.weave.works'],
  ['watch', 'gitopsclusters.gitops.weave.works'],
];

void describe('deploy/ against a real kube-apiserver', () => {
  let kube: KubeApiServer;
  const accounts = {} as Record<Component, { name: string; kubeConfig: KubeConfig }>;
  const sources: KubernetesPipelineSource[] = [];

  before(async () => {
    kube = await startKubeApiServer();
    await applyPipelineCrd(kube.kubeConfig);
    for (const namespace of NAMESPACES) await ensureNamespace(kube.kubeConfig, namespace);

    // The chart's own ServiceAccounts, ClusterRoles and bindings, really created.
    const rendered = chartRbac();
    for (const object of rendered.filter((d) => d.kind !== 'Deployment')) await createOk(kube, object, { dryRun: false });
    const core = kube.kubeConfig.makeApiClient(CoreV1Api);
    for (const component of ['gateway', 'worker'] as const) {
      // The identity each Deployment runs as.
      const name = serviceAccountOf(rendered, component);
      const { status } = await core.createNamespacedServiceAccountToken({
        name,
        namespace: RELEASE_NAMESPACE,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      });
      assert.ok(status?.token, `the TokenRequest for ${name} returned a token`);
      accounts[component] = { name, kubeConfig: serviceAccountKubeConfig(kube.kubeConfig, name, status.token) };
    }

    // What an operator applies on the management cluster (really created: Baton reads them).
    for (const file of ['management-cluster/pipeline-secret.yaml', 'management-cluster/pipeline.yaml']) {
      for (const object of example(file)) await createOk(kube, object, { dryRun: false });
    }
  });

  after(async () => {
    for (const source of sources) await source.stop();
    await kube?.stop();
  });

  async function syncedSource(kubeConfig: KubeConfig): Promise<KubernetesPipelineSource> {
    const source = new KubernetesPipelineSource(kubeConfig, pino({ level: 'silent' }), {
      reconnectDelayMs: 200,
      maxReconnectDelayMs: 1_000,
    });
    sources.push(source);
    const timer = new AbortController();
    const synced = await Promise.race([source.start().then(() => true), sleep(30_000, false, { signal: timer.signal }).catch(() => false)]);
    timer.abort();
    assert.ok(synced, 'the Pipeline list + watch succeeded within 30 s');
    return source;
  }

  function promoteNotification(pipeline: { namespace: string; name: string; uid?: string }) {
    const notification = {
      pipeline: { namespace: pipeline.namespace, name: pipeline.name, ...(pipeline.uid === undefined ? {} : { uid: pipeline.uid }) },
      sourceEnvironment: 'dev',
      targetEnvironment: 'test',
      version: '6.7.1',
      workflowId: 'release/flux-system/podinfo-02/6.7.1',
    };
    return { ...notification, message: promotionMessage(notification) };
  }

  async function promoteEvents(): Promise<CoreV1Event[]> {
    const events = await kube.kubeConfig.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'flux-system' });
    return events.items.filter((e: CoreV1Event) => e.reason === 'Promote' && e.involvedObject.name === 'podinfo-02');
  }

  async function waitingApproval(): Promise<unknown> {
    const pipeline = (await kube.kubeConfig.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: 'pipelines.weave.works',
      version: 'v1alpha1',
      plural: 'pipelines',
      namespace: 'flux-system',
      name: 'podinfo-02',
    })) as { status?: { environments?: Record<string, { waitingApproval?: unknown }> } };
    return pipeline.status?.environments?.test?.waitingApproval;
  }

  test('the gateway and the worker run as two different ServiceAccounts', () => {
    assert.notEqual(accounts.gateway.name, accounts.worker.name);
  });

  test("with only the chart's RBAC, the gateway syncs Pipelines and reads their hmac-key, and can write neither Events nor status", async () => {
    const { kubeConfig } = accounts.gateway;
    const source = await syncedSource(kubeConfig);
    const pipeline = source.getPipeline({ namespace: 'flux-system', name: 'podinfo-02' });
    assert.ok(pipeline, 'the example Pipeline is served');
    const secret = await source.getSecret('flux-system', pipeline.spec.promotion!.strategy.secretRef!.name);
    const [leafSecret] = example('leaf-cluster/secret.yaml') as (Manifest & { stringData: Record<string, string> })[];
    assert.equal(secret?.['hmac-key']?.toString('utf8'), leafSecret!.stringData.token);

    await assert.rejects(
      createKubernetesEventNotifier(kubeConfig).notify(promoteNotification(pipeline)),
      /forbidden: RBAC: baton needs create on events/,
    );
    assert.deepEqual(await promoteEvents(), [], 'no Event was recorded');
    const writer = new KubernetesPipelineStatusWriter(kubeConfig, pino({ level: 'silent' }));
    await assert.rejects(
      writer.write({
        pipeline: { namespace: 'flux-system', name: 'podinfo-02' },
        environment: 'test',
        waitingApproval: { revision: '6.6.6' },
      }),
      /forbidden: RBAC: baton needs patch on pipelines\/status/,
    );
    assert.equal(await waitingApproval(), undefined, 'no status was written');
  });

  test("with only the chart's RBAC, the worker syncs Pipelines, reads their Secret, records a Promote Event and writes status", async () => {
    const { kubeConfig } = accounts.worker;
    const source = await syncedSource(kubeConfig);
    const pipeline = source.getPipeline({ namespace: 'flux-system', name: 'podinfo-02' });
    assert.ok(pipeline, 'the example Pipeline is served');
    assert.ok(await source.getSecret('flux-system', pipeline.spec.promotion!.strategy.secretRef!.name));

    await createKubernetesEventNotifier(kubeConfig).notify(promoteNotification(pipeline));
    const [promote] = await promoteEvents();
    assert.equal(promote?.message, 'Promote pipeline flux-system/podinfo-02 to test with version 6.7.1');

    const writer = new KubernetesPipelineStatusWriter(kubeConfig, pino({ level: 'silent' }));
    await writer.write({
      pipeline: { namespace: 'flux-system', name: 'podinfo-02' },
      environment: 'test',
      waitingApproval: { revision: '6.7.1' },
    });
    assert.deepEqual(await waitingApproval(), { revision: '6.7.1' });
  });

  test('SubjectAccessReview: each ServiceAccount may do exactly its own part, Secrets by name only', async () => {
    const authorization = kube.kubeConfig.makeApiClient(AuthorizationV1Api);
    const allowed = async (component: Component, access: Access): Promise<boolean> => {
      const review = await authorization.createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:${RELEASE_NAMESPACE}:${accounts[component].name}`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${RELEASE_NAMESPACE}`, 'system:authenticated'],
            resourceAttributes: attributesOf(access),
          },
        },
      });
      return review.status?.allowed === true;
    };
    const expectations: [Component, Access, boolean][] = [
      ...BOTH_ALLOWED.flatMap((a): [Component, Access, boolean][] => [
        ['gateway', a, true],
        ['worker', a, true],
      ]),
      ...BOTH_FORBIDDEN.flatMap((a): [Component, Access, boolean][] => [
        ['gateway', a, false],
        ['worker', a, false],
      ]),
      ...WORKER_ONLY.flatMap((a): [Component, Access, boolean][] => [
        ['gateway', a, false],
        ['worker', a, true],
      ]),
    ];
    const wrong: string[] = [];
    for (const [component, access, expected] of expectations) {
      if ((await allowed(component, access)) !== expected) wrong.push(`${component} ${expected ? 'cannot' : 'can'} ${access.join(' ')}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('both ServiceAccounts can read Secrets only by name: list and watch are forbidden', async () => {
    for (const component of ['gateway', 'worker'] as const) {
      const core = accounts[component].kubeConfig.makeApiClient(CoreV1Api);
      await forbidden(core.listNamespacedSecret({ namespace: 'flux-system' }), `${component}: listing Secrets in a namespace`);
      await forbidden(core.listSecretForAllNamespaces(), `${component}: listing Secrets in all namespaces`);
      await forbidden(core.listNamespacedSecret({ namespace: 'flux-system', watch: true }), `${component}: watching Secrets`);
    }
  });

  test('the Secrets and the Pipeline of the examples pass strict server-side validation', async () => {
    const objects = yamlFilesUnder(join(EXAMPLES, 'flux'))
      .filter((file) => !file.endsWith('kustomization.yaml'))
      .flatMap((file) => readDocuments<Manifest>(file))
      .filter((object) => object.kind === 'Secret' || object.kind === 'Pipeline');
    assert.equal(objects.length, 4);
    // Renamed: before() already created two of them for real.
    for (const object of objects)
      await createOk(kube, { ...object, metadata: { ...object.metadata, name: `${object.metadata.name}-check` } });
  });

  test("Flux's Alert CRD takes kind: Pipeline on v1beta3 only with the flux-system patch (Weave's /versions/0 patch is not enough)", async () => {
    const [managementAlert] = example('management-cluster/alert.yaml');
    const [leafAlert] = example('leaf-cluster/alert.yaml');

    await applyAlertCrd(kube, fluxAlertCrd());
    const unpatched = await settlesTo(kube, managementAlert!, false);
    assert.match(unpatched.message, /Unsupported value: "Pipeline"/);
    await settlesTo(kube, leafAlert!, true);

    const weave = fluxAlertCrd();
    applyJsonPatch(weave, [
      {
        op: 'add',
        path: '/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/eventSources/items/properties/kind/enum/-',
        value: 'Pipeline',
      },
    ]);
    await applyAlertCrd(kube, weave);
    await settlesTo(kube, alertFor('v1beta2', 'Pipeline', 'podinfo-02'), true);
    assert.equal((await create(kube, managementAlert!)).status, 422, 'v1beta3 still refuses kind: Pipeline');

    const ours = fluxAlertCrd();
    applyJsonPatch(ours, fluxSystemPatch());
    await applyAlertCrd(kube, ours);
    await settlesTo(kube, managementAlert!, true);
    await settlesTo(kube, leafAlert!, true);

    // The test op refuses a CRD whose versions[1] is not v1beta3, instead of patching the wrong one.
    const moved = fluxAlertCrd() as { spec: { versions: unknown[] } };
    moved.spec.versions.reverse();
    assert.throws(() => applyJsonPatch(moved, fluxSystemPatch()), /test \/spec\/versions\/1\/name/);
  });

  test('every object the chart renders passes strict server-side validation (defaults and every option set)', async () => {
    const sets = [
      [],
      [
        '--set',
        'ingress.enabled=true',
        '--set',
        'ingress.className=nginx',
        '--set',
        'rbac.secretNamespaces={flux-system,team-a}',
        '--set',
        'temporal.tls.secretName=baton-temporal-tls',
        '--set',
        'temporal.tls.caKey=ca.crt',
        '--set',
        'temporal.apiKey.secretName=baton-temporal-api-key',
        '--set',
        'pipelines.source=directory',
        '--set',
        'events.address=',
        '--set',
        'metrics.scrapeAnnotations=false',
      ],
    ];
    for (const args of sets) {
      const objects = helmTemplate(serverBinary('helm'), args, HELM_NAMESPACE);
      assert.ok(objects.some((o) => o.kind === 'Deployment'));
      for (const object of objects) await createOk(kube, object, { namespace: HELM_NAMESPACE });
    }
  });
});
