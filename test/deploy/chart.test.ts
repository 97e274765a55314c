/**
 * deploy/ without a cluster and without Helm: the chart's values against config/config.ts, its
 * templates' static YAML, the RBAC it grants, the Dockerfile's file list, and the Flux examples
 * against each other and against the Pipeline they promote. With a helm binary (BATON_HELM_BIN or
 * PATH) the chart is also linted and rendered, and the renderer used here is checked against Helm.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { DEFAULT_EVENTS_ADDRESS } from '../../activities/notify/flux-event.js';
import { promotionMessage } from '../../activities/notify/notifier.js';
import { loadConfig } from '../../config/config.js';
import { trustProxyOption } from '../../gateway/client-ip.js';
import type { PipelineSpec } from '../../model/pipeline.js';
import { pipelineFromManifest } from '../../pipelines/validate.js';
import { serverBinary } from '../infra/binaries.js';
import { delivery, directorySource, EXAMPLE_PIPELINES_DIR, PODINFO, testApp, unreachableStarter } from '../gateway/helpers.js';
import { fixtureBody, FIXTURES } from '../support/events.js';
import {
  CHART,
  configSchemaKeys,
  CRDS,
  DEPLOY,
  dockerCopies,
  dockerfileStages,
  type DockerStage,
  envNamesInTemplates,
  envRecord,
  type EnvVar,
  EXAMPLES,
  grants,
  grantsOfServiceAccount,
  helmLint,
  helmTemplate,
  lookup,
  type Manifest,
  manifestTemplates,
  PLACEHOLDER,
  type PolicyRule,
  readDocuments,
  readText,
  renderEnv,
  REPO,
  runtimeClosure,
  repoPath,
  serviceAccountOf,
  skeletonDocuments,
  TEMPLATES,
  valuesPathsInTemplates,
  yamlFilesUnder,
} from './chart-files.js';

const values = parse(readText(join(CHART, 'values.yaml'))) as Record<string, unknown>;
const packageJson = JSON.parse(readText(join(REPO, 'package.json'))) as {
  version: string;
  dependencies: Record<string, string>;
};

/**
 * What RBAC the chart grants each component, exactly: the calls its own process makes. A new
 * permission is a decision: change these lists with it.
 */
const EXPECTED_GRANTS = {
  // Webhook authentication: the Pipeline cache and the hmac-key Secret a Pipeline names.
  gateway: [
    'pipelines.weave.works pipelines get',
    'pipelines.weave.works pipelines list',
    'pipelines.weave.works pipelines watch',
    'core secrets get',
  ],
  // Activities, the status writer and the status controller.
  worker: [
    'pipelines.weave.works pipelines get',
    'pipelines.weave.works pipelines list',
    'pipelines.weave.works pipelines watch',
    'pipelines.weave.works pipelines/status patch',
    'core secrets get',
    'core events create',
    'gitops.weave.works gitopsclusters list',
    'gitops.weave.works gitopsclusters watch',
  ],
};

/** The rule of rbac.verifiedResources (empty by default) as the template's skeleton shows it: `get` only. */
const VERIFIED_RESOURCES_SKELETON = `${PLACEHOLDER} ${PLACEHOLDER} get`;

/** Everything the internet-facing gateway must never be able to do. */
const GATEWAY_MUST_NOT = [
  'pipelines.weave.works pipelines/status patch',
  'pipelines.weave.works pipelines/status update',
  'pipelines.weave.works pipelines update',
  'pipelines.weave.works pipelines patch',
  'core events create',
  'core events patch',
  'core secrets list',
  'core secrets watch',
];

/** The private ranges the chart trusts X-Forwarded-For from behind its own Ingress by default. */
const INGRESS_TRUSTED_PROXIES = '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7';

/** The command each Deployment runs, as the image lays the compiled files out under /app. */
const COMMANDS = {
  gateway: ['node', '--enable-source-maps', 'gateway/server.js'],
  worker: ['node', '--enable-source-maps', 'worker/main.js'],
};

/** The Alert exclusions Weave GitOps documents for promotion Alerts (seed 002). */
const WEAVE_EXCLUSIONS = ['.*upgrade.*has.*started', '.*is.*not.*ready', '^Dependencies.*'];

function clone<T>(value: T): T {
  return structuredClone(value);
}

function rulesOf(docs: Manifest[], kinds = ['ClusterRole', 'Role']): PolicyRule[] {
  return docs.filter((d) => kinds.includes(d.kind)).flatMap((d) => (d.rules as PolicyRule[] | undefined) ?? []);
}

interface Container {
  name: string;
  command?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: unknown }[];
  livenessProbe?: { httpGet?: { path: string; port: unknown } };
  readinessProbe?: { httpGet?: { path: string; port: unknown } };
  startupProbe?: { httpGet?: { path: string; port: unknown } };
}

interface PodTemplate {
  metadata?: { annotations?: Record<string, string> };
  spec: { containers: Container[] };
}

function podTemplate(deployment: Manifest): PodTemplate {
  return (deployment.spec as { template: PodTemplate }).template;
}

void describe('deploy/chart: Chart.yaml and values.yaml', () => {
  test('Chart.yaml names the chart baton and deploys the package version', () => {
    const chart = parse(readText(join(CHART, 'Chart.yaml'))) as Record<string, unknown>;
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'baton');
    assert.equal(chart.appVersion, '0.1.0');
    assert.equal(chart.appVersion, packageJson.version, 'appVersion follows package.json');
  });

  test("rate limit and retry keep Weave's value names and defaults", () => {
    assert.deepEqual(lookup(values, 'promotion.rateLimit'), { value: 20, interval: 30 });
    assert.deepEqual(
      {
        delay: lookup(values, 'promotion.retry.delay'),
        maxDelay: lookup(values, 'promotion.retry.maxDelay'),
        threshold: lookup(values, 'promotion.retry.threshold'),
      },
      { delay: 2, maxDelay: 20, threshold: 3 },
    );
  });

  test('values.yaml defaults render to the defaults of config/config.ts, except the two cluster ones', () => {
    const defaults = loadConfig({});
    const chart = loadConfig(envRecord(renderEnv(values)));
    assert.deepEqual(chart.pipelines, { kind: 'kubernetes' }, 'in a cluster Pipelines come from the Kubernetes API');
    assert.equal(chart.eventsAddress, DEFAULT_EVENTS_ADDRESS, "Flux events go to the notification-controller's default address");
    assert.deepEqual({ ...chart, pipelines: defaults.pipelines, eventsAddress: defaults.eventsAddress }, defaults);
    // The Weave-compatible values, spelled out.
    assert.deepEqual(chart.gateway.rateLimit, { max: 20, windowMs: 30_000 });
    assert.deepEqual(chart.releasePolicy.activityRetry, {
      initialInterval: 2_000,
      backoffCoefficient: 2,
      maximumInterval: 20_000,
      maximumAttempts: 3,
    });
  });

  test('each value reaches its setting (seconds, duration strings, lists, switches)', () => {
    const changed = clone(values) as {
      promotion: { rateLimit: Record<string, unknown>; retry: Record<string, unknown>; idleTimeout: unknown; promotingReasons: string[] };
      gateway: Record<string, unknown>;
      temporal: Record<string, unknown> & { tls: Record<string, unknown> };
      pipelines: Record<string, unknown>;
      events: Record<string, unknown>;
      worker: Record<string, unknown>;
      tracing: Record<string, unknown>;
      logLevel: string;
    };
    changed.promotion.rateLimit = { value: 50, interval: '1m' };
    changed.promotion.retry = { delay: 5, maxDelay: 90, threshold: 7, backoff: 1.5 };
    changed.promotion.idleTimeout = '7d';
    changed.promotion.promotingReasons = ['UpgradeSucceeded'];
    changed.gateway.trustedProxies = ['10.0.0.0/8', 'fd00::/8'];
    changed.gateway.allowUnsigned = true;
    changed.gateway.port = 9000;
    changed.gateway.publicUrl = 'https://baton.example.com';
    changed.temporal.address = 'temporal-frontend.temporal.svc:7233';
    changed.temporal.tls.enabled = true;
    changed.temporal.tls.serverName = 'temporal.example.com';
    changed.pipelines.source = 'directory';
    changed.events.address = '';
    changed.worker.gitHosts = ['git.example.com', '*.gitlab.example.com'];
    changed.worker.metricsPort = 0;
    changed.tracing.otlpEndpoint = 'http://otel-collector.observability:4318';
    changed.logLevel = 'debug';
    const config = loadConfig(envRecord(renderEnv(changed)));
    assert.deepEqual(config.gateway.rateLimit, { max: 50, windowMs: 60_000 });
    assert.deepEqual(config.releasePolicy.activityRetry, {
      initialInterval: 5_000,
      backoffCoefficient: 1.5,
      maximumInterval: 90_000,
      maximumAttempts: 7,
    });
    assert.equal(config.releasePolicy.idleTimeout, 7 * 24 * 3600 * 1000);
    assert.deepEqual(config.gateway.promotingReasons, ['UpgradeSucceeded']);
    assert.deepEqual(config.gateway.trustedProxies, ['10.0.0.0/8', 'fd00::/8']);
    assert.equal(config.gateway.allowUnsigned, true);
    assert.equal(config.gateway.port, 9000);
    assert.equal(config.gatewayUrl, 'https://baton.example.com');
    assert.equal(config.temporal.address, 'temporal-frontend.temporal.svc:7233');
    assert.deepEqual(config.temporal.tls, {
      clientCertPath: undefined,
      clientKeyPath: undefined,
      serverRootCaPath: undefined,
      serverName: 'temporal.example.com',
    });
    assert.deepEqual(config.pipelines, { kind: 'directory', directory: lookup(values, 'pipelines.directory') });
    assert.equal(config.eventsAddress, undefined, 'an empty events.address sets no BATON_EVENTS_ADDRESS');
    assert.deepEqual(config.gitHosts, ['git.example.com', '*.gitlab.example.com']);
    assert.equal(config.worker.metricsPort, 0);
    assert.deepEqual(config.tracing, { endpoint: 'http://otel-collector.observability:4318' });
    assert.equal(config.logLevel, 'debug');
  });

  test("behind the chart's Ingress, X-Forwarded-For is believed from the private ranges unless gateway.trustedProxies is set", () => {
    const rendered = (overrides: object): string[] => {
      const merged = clone(values);
      deepMerge(merged, overrides);
      return loadConfig(envRecord(renderEnv(merged))).gateway.trustedProxies;
    };
    assert.deepEqual(rendered({}), [], 'without an Ingress the socket address is the client');
    const behindIngress = rendered({ ingress: { enabled: true } });
    assert.deepEqual(behindIngress, INGRESS_TRUSTED_PROXIES.split(','));
    assert.deepEqual(trustProxyOption(behindIngress), behindIngress, 'the gateway accepts the default list');
    assert.deepEqual(rendered({ ingress: { enabled: true }, gateway: { trustedProxies: ['10.244.0.0/16'] } }), ['10.244.0.0/16']);
    assert.deepEqual(rendered({ gateway: { trustedProxies: ['10.244.0.0/16'] } }), ['10.244.0.0/16']);
  });

  test('every .Values path the templates use is defined in values.yaml', () => {
    const paths = [...valuesPathsInTemplates()];
    assert.ok(paths.length > 40, `found only ${paths.length} .Values paths`);
    for (const path of paths) assert.doesNotThrow(() => lookup(values, path), `.Values.${path}`);
  });

  test('the templates set only variables config/config.ts reads, and every one of them', () => {
    const known = configSchemaKeys();
    assert.ok(known.has('BATON_RETRY_MAX_ATTEMPTS') && known.size > 20, 'read the schema keys of config/config.ts');
    const used = envNamesInTemplates();
    assert.deepEqual(
      [...used].filter((name) => !known.has(name)),
      [],
      'variables config/config.ts does not know',
    );
    assert.deepEqual(
      [...known].filter((name) => !used.has(name)),
      [],
      'settings the chart cannot set',
    );
  });

  test('the gateway listens on the port config/config.ts defaults to, behind a Service port named http', () => {
    assert.equal(lookup(values, 'gateway.port'), loadConfig({}).gateway.port);
    assert.equal(lookup(values, 'service.port'), 8082);
    const [service] = skeletonDocuments('service.yaml');
    const ports = (service!.spec as { ports: { name: string; targetPort: string }[] }).ports;
    assert.deepEqual(
      ports.map((p) => [p.name, p.targetPort]),
      [['http', 'http']],
    );
  });

  test('pods run as a non-root user on a read-only root filesystem', () => {
    assert.equal(lookup(values, 'podSecurityContext.runAsNonRoot'), true);
    assert.notEqual(lookup(values, 'podSecurityContext.runAsUser'), 0);
    assert.equal(lookup(values, 'securityContext.readOnlyRootFilesystem'), true);
    assert.equal(lookup(values, 'securityContext.allowPrivilegeEscalation'), false);
    assert.deepEqual(lookup(values, 'securityContext.capabilities.drop'), ['ALL']);
  });

  test('the Ingress routes only the webhook paths, never /metrics or the probes', () => {
    const hosts = lookup(values, 'ingress.hosts') as { paths: { path: string }[] }[];
    const paths = hosts.flatMap((h) => h.paths.map((p) => p.path));
    assert.deepEqual(paths, ['/promotion', '/approval']);
  });
});

void describe('deploy/chart: templates', () => {
  test("every manifest template's static YAML parses into Kubernetes objects", () => {
    const templates = manifestTemplates();
    assert.ok(templates.includes('rbac.yaml') && templates.includes('gateway-deployment.yaml'));
    for (const file of templates) {
      const docs = skeletonDocuments(file);
      assert.ok(docs.length > 0, `${file} holds no object`);
      for (const doc of docs) {
        assert.ok(doc.apiVersion && doc.kind && doc.metadata?.name, `${file}: an object without apiVersion, kind or metadata.name`);
      }
    }
  });

  test('RBAC grants each component exactly what it needs: Secrets by name only, no wildcards, a gateway that writes nothing', () => {
    const docs = skeletonDocuments('rbac.yaml');
    const rules = rulesOf(docs);
    for (const rule of rules) {
      for (const field of [rule.apiGroups ?? [], rule.resources ?? [], rule.verbs])
        assert.ok(!field.includes('*'), `wildcard in ${JSON.stringify(rule)}`);
      if ((rule.resources ?? []).includes('secrets')) assert.deepEqual(rule.verbs, ['get'], `Secrets rule ${JSON.stringify(rule)}`);
    }
    const granted = grants(rules);
    for (const verb of ['list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection']) {
      assert.ok(!granted.has(`core secrets ${verb}`), `${verb} on Secrets`);
    }
    const clusterRole = (component: string): Manifest => {
      const matches = docs.filter((d) => d.kind === 'ClusterRole' && d.metadata.name.endsWith(`-${component}`));
      assert.equal(matches.length, 1, `one ClusterRole for the ${component}`);
      return matches[0]!;
    };
    for (const component of ['gateway', 'worker'] as const) {
      const expected = component === 'worker' ? [...EXPECTED_GRANTS.worker, VERIFIED_RESOURCES_SKELETON] : EXPECTED_GRANTS.gateway;
      assert.deepEqual([...grants(rulesOf([clusterRole(component)]))].sort(), [...expected].sort(), component);
    }
    // The per-namespace alternative (rbac.secretNamespaces) grants the same `get` only.
    assert.deepEqual([...grants(rulesOf(docs, ['Role']))], ['core secrets get']);
  });

  test('the Pipeline rules name the group and plural of the CRD in deploy/crds', () => {
    const [crd] = readDocuments<{ spec: { group: string; names: { plural: string } } }>(join(CRDS, 'pipelines.weave.works_pipelines.yaml'));
    const granted = grants(rulesOf(skeletonDocuments('rbac.yaml')));
    assert.ok(granted.has(`${crd!.spec.group} ${crd!.spec.names.plural} watch`));
    assert.ok(granted.has(`${crd!.spec.group} ${crd!.spec.names.plural}/status patch`));
  });

  test('the gateway runs the compiled gateway/server.ts with probes on routes the gateway serves', () => {
    const [deployment] = skeletonDocuments('gateway-deployment.yaml');
    const pod = podTemplate(deployment!);
    const [container] = pod.spec.containers;
    assert.deepEqual(container!.command, COMMANDS.gateway);
    assert.ok(existsSync(join(REPO, 'gateway/server.ts')));
    assert.equal(container!.ports?.[0]?.name, 'http');
    assert.deepEqual(container!.livenessProbe?.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(container!.startupProbe?.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(container!.readinessProbe?.httpGet, { path: '/readyz', port: 'http' });
    const health = readText(join(REPO, 'gateway/routes/health.ts'));
    assert.ok(health.includes("'/healthz'") && health.includes("'/readyz'"), 'gateway/routes/health.ts serves /healthz and /readyz');
    const annotations = pod.metadata?.annotations ?? {};
    assert.equal(annotations['prometheus.io/scrape'], 'true');
    assert.equal(annotations['prometheus.io/path'], '/metrics');
    assert.ok(readText(join(REPO, 'gateway/plugins/metrics.ts')).includes("app.get('/metrics'"), 'the gateway serves /metrics');
  });

  test('the worker runs the compiled worker/main.ts', () => {
    const [deployment] = skeletonDocuments('worker-deployment.yaml');
    const [container] = podTemplate(deployment!).spec.containers;
    assert.deepEqual(container!.command, COMMANDS.worker);
    assert.ok(existsSync(join(REPO, 'worker/main.ts')));
  });

  test('the worker exposes /metrics on a container port named metrics, at the port config/config.ts defaults to', () => {
    assert.equal(lookup(values, 'worker.metricsPort'), loadConfig({}).worker.metricsPort);
    const [deployment] = skeletonDocuments('worker-deployment.yaml');
    const pod = podTemplate(deployment!);
    assert.deepEqual(
      pod.spec.containers[0]!.ports?.map((p) => p.name),
      ['metrics'],
    );
    const annotations = pod.metadata?.annotations ?? {};
    assert.equal(annotations['prometheus.io/scrape'], 'true');
    assert.equal(annotations['prometheus.io/path'], '/metrics');
    assert.equal(lookup(values, 'metrics.serviceMonitor.enabled'), false, 'ServiceMonitors need the Prometheus Operator: opt-in');
  });

  test('a PodDisruptionBudget covers each component without blocking single-replica drains', () => {
    const docs = skeletonDocuments('pdb.yaml');
    assert.equal(docs.length, 1, 'one PodDisruptionBudget in the template, ranged over gateway and worker');
    assert.ok(readText(join(TEMPLATES, 'pdb.yaml')).includes('list "gateway" "worker"'));
    assert.equal(lookup(values, 'podDisruptionBudget.maxUnavailable'), 1);
    assert.ok(!('minAvailable' in (docs[0]!.spec as object)));
  });

  test('the chart does not ship the CRD (Helm never upgrades crds/); NOTES.txt says to apply it', () => {
    assert.ok(!existsSync(join(CHART, 'crds')));
    assert.ok(readText(join(TEMPLATES, 'NOTES.txt')).includes('kubectl apply -f deploy/crds/'));
  });
});

/** The folders tsconfig.build.json compiles. */
function buildIncludes(): string[] {
  return (JSON.parse(readText(join(REPO, 'tsconfig.build.json'))) as { include: string[] }).include;
}

void describe('deploy/Dockerfile', () => {
  const dockerfile = readText(join(DEPLOY, 'Dockerfile'));
  const stages = dockerfileStages(dockerfile);
  const stage = (name: string): DockerStage => {
    const found = stages.find((s) => s.name === name);
    assert.ok(found, `a stage named ${name}`);
    return found;
  };
  const runtime = stages.at(-1)!;
  const runs = (s: DockerStage): string[] => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  const env = (s: DockerStage): string =>
    s.instructions
      .filter((i) => i.keyword === 'ENV')
      .map((i) => i.args)
      .join('\n');
  const { files, packages } = runtimeClosure(['gateway/server.ts', 'worker/main.ts', 'workflows/index.ts']);

  test('builds on the slim image of the Node major package.json engines name, and runs as the chart’s non-root user', () => {
    const engines = (JSON.parse(readText(join(REPO, 'package.json'))) as { engines: { node: string } }).engines.node;
    const major = /^>=(\d+)$/.exec(engines)?.[1];
    assert.ok(major !== undefined, `engines.node '${engines}' names a minimum major`);
    assert.equal(/^ARG NODE_IMAGE=node:(\d+)-slim$/m.exec(dockerfile)?.[1], major, 'the image runs the Node that engines asks for');
    assert.deepEqual(
      stages.map((s) => s.from),
      ['${NODE_IMAGE}', '${NODE_IMAGE}', '${NODE_IMAGE}'],
    );
    const users = runtime.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args);
    assert.equal(users.length, 1);
    const user = users[0]!;
    assert.ok(!/^(0|root)(:|$)/.test(user), `USER ${user}`);
    assert.equal(user.split(':')[0], String(lookup(values, 'podSecurityContext.runAsUser')));
  });

  test('the build stage has every source the build compiles, and runs npm run build', () => {
    const build = stage('build');
    assert.ok(
      runs(build).some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev')),
      'all dependencies: TypeScript is a dev one',
    );
    assert.ok(runs(build).includes('npm run build'));
    const copied = dockerCopies(build).flatMap((c) => (c.from === undefined ? c.sources : []));
    const covered = (file: string): boolean =>
      copied.some((source) => file === join(REPO, source) || file.startsWith(join(REPO, source) + '/'));
    const needed = [
      ...files,
      ...['tsconfig.json', 'tsconfig.build.json', 'scripts/build.ts', 'package-lock.json'].map((f) => join(REPO, f)),
    ];
    assert.ok(files.has(join(REPO, 'deploy/crds/pipelines.weave.works_pipelines.yaml')), 'the scan follows new URL(…) file references');
    assert.deepEqual(needed.filter((f) => !covered(f)).map(repoPath), [], 'files the build stage lacks');
    // tsc emits only what tsconfig.build.json includes (test/deploy/build.test.ts runs the build itself).
    const includes = buildIncludes();
    const uncompiled = [...files].filter((f) => f.endsWith('.ts') && !includes.includes(repoPath(f).split('/')[0]!));
    assert.deepEqual(uncompiled.map(repoPath), [], 'runtime modules outside tsconfig.build.json');
    const ignore = readText(join(DEPLOY, 'Dockerfile.dockerignore')).split('\n');
    assert.ok(ignore.includes('!scripts/build.ts'), 'the build context keeps scripts/build.ts');
    for (const source of copied) assert.ok(!ignore.includes(source.split('/')[0]!), `the build context keeps ${source}`);
  });

  test('the runtime stage holds the compiled build and production dependencies only, run by plain node', () => {
    const deps = stage('deps');
    assert.ok(runs(deps).some((r) => /^npm ci --omit=dev\b/.test(r)));
    const copies = dockerCopies(runtime);
    assert.deepEqual(copies, [
      { from: 'deps', sources: ['/app/node_modules'], dest: './node_modules' },
      { from: 'build', sources: ['/app/dist'], dest: './' },
    ]);
    assert.ok(runtime.instructions.some((i) => i.keyword === 'WORKDIR' && i.args === '/app'));
    // Neither the TypeScript loader nor the bundler's native SWC addon runs in the image.
    assert.doesNotMatch(env(runtime), /SWC|tsx/i);
    const cmd = JSON.parse(runtime.instructions.find((i) => i.keyword === 'CMD')!.args) as string[];
    assert.deepEqual(cmd, COMMANDS.gateway, "the default command is the gateway Deployment's");
    for (const command of Object.values(COMMANDS)) {
      assert.ok(!command.some((arg) => /tsx|--import|--loader|\.ts$/.test(arg)), command.join(' '));
      const source = join(REPO, command.at(-1)!.replace(/\.js$/, '.ts'));
      assert.ok(files.has(source), `${repoPath(source)} is an entry point the scan covers`);
    }
    const missing = [...packages].filter((p) => !(p in packageJson.dependencies));
    assert.deepEqual(missing, [], 'packages imported at runtime but absent from dependencies (npm ci --omit=dev drops them)');
  });
});

interface FluxProvider extends Manifest {
  spec: { type: string; address: string; secretRef?: { name: string } };
}
interface FluxAlert extends Manifest {
  spec: {
    providerRef: { name: string };
    eventSeverity: string;
    eventSources: { kind: string; name: string; namespace?: string }[];
    exclusionList?: string[];
    inclusionList?: string[];
  };
}
interface SecretManifest extends Manifest {
  stringData?: Record<string, string>;
  data?: Record<string, string>;
}
interface PipelineManifest extends Manifest {
  spec: PipelineSpec;
}
interface KustomizationFile {
  resources?: string[];
  patches?: { target: Record<string, string>; patch: string }[];
}

function secretValue(secret: SecretManifest, key: string): string | undefined {
  return (
    secret.stringData?.[key] ?? (secret.data?.[key] === undefined ? undefined : Buffer.from(secret.data[key], 'base64').toString('utf8'))
  );
}

function objectsIn(dir: string): Manifest[] {
  return yamlFilesUnder(dir)
    .filter((file) => !file.endsWith('kustomization.yaml'))
    .flatMap((file) => readDocuments<Manifest>(file));
}

function only<T extends Manifest>(docs: Manifest[], kind: string, name?: string): T {
  const matches = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  assert.equal(matches.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
  return matches[0] as T;
}

void describe('deploy/examples and deploy/crds', () => {
  const leaf = objectsIn(join(EXAMPLES, 'flux', 'leaf-cluster'));
  const management = objectsIn(join(EXAMPLES, 'flux', 'management-cluster'));
  const pipeline = only<PipelineManifest>(management, 'Pipeline');

  test('every YAML file parses; each document is a Kubernetes object or a Kustomization whose files exist', () => {
    const files = [...yamlFilesUnder(EXAMPLES), ...yamlFilesUnder(CRDS)];
    assert.ok(files.length >= 10, `found ${files.length} files`);
    for (const file of files) {
      const docs = readDocuments<Manifest & KustomizationFile>(file);
      assert.ok(docs.length > 0, `${repoPath(file)} is empty`);
      for (const doc of docs) {
        assert.ok(doc.apiVersion && doc.kind, `${repoPath(file)}: a document without apiVersion or kind`);
        if (doc.kind === 'Kustomization') {
          for (const resource of doc.resources ?? []) {
            if (resource.startsWith('gotk-')) continue; // written by `flux bootstrap` on the user's side
            assert.ok(existsSync(join(dirname(file), resource)), `${repoPath(file)} lists ${resource}`);
          }
        } else {
          assert.ok(doc.metadata?.name, `${repoPath(file)}: ${doc.kind} without metadata.name`);
        }
      }
    }
  });

  test('Flux objects use notification.toolkit.fluxcd.io/v1beta3', () => {
    const flux = [...leaf, ...management].filter((d) => d.kind === 'Provider' || d.kind === 'Alert');
    assert.equal(flux.length, 4);
    for (const doc of flux) assert.equal(doc.apiVersion, 'notification.toolkit.fluxcd.io/v1beta3', `${doc.kind} ${doc.metadata.name}`);
  });

  test('the management Pipeline is valid and verifies webhooks with a Secret that has hmac-key', () => {
    const result = pipelineFromManifest(pipeline);
    assert.ok(result.ok, `invalid Pipeline: ${result.ok ? '' : result.problems.join('; ')}`);
    assert.deepEqual(pipeline.spec.promotion?.strategy.notification, {});
    const secretName = pipeline.spec.promotion?.strategy.secretRef?.name;
    assert.ok(secretName);
    const secret = only<SecretManifest>(management, 'Secret', secretName);
    assert.equal(secret.metadata.namespace, pipeline.metadata.namespace, "the Secret lives in the Pipeline's namespace");
    assert.ok(secretValue(secret, 'hmac-key'));
  });

  test('the leaf Provider signs with generic-hmac for the Pipeline environment its address names, with the same key', () => {
    const provider = only<FluxProvider>(leaf, 'Provider');
    assert.equal(provider.spec.type, 'generic-hmac');
    assert.equal(provider.spec.address, 'https://baton.example.com/promotion/flux-system/podinfo-02/dev');
    const [, namespace, name, environment] = /\/promotion\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(new URL(provider.spec.address).pathname) ?? [];
    assert.equal(namespace, pipeline.metadata.namespace);
    assert.equal(name, pipeline.metadata.name);
    const env = pipeline.spec.environments.find((e) => e.name === environment);
    assert.ok(env, `the Pipeline has an environment ${environment}`);
    assert.ok(
      env.targets.some((t) => t.namespace === provider.metadata.namespace),
      "the Provider lives in one of the environment's target namespaces",
    );

    const secret = only<SecretManifest>(leaf, 'Secret', provider.spec.secretRef?.name);
    assert.equal(secret.metadata.namespace, provider.metadata.namespace);
    const token = secretValue(secret, 'token');
    assert.ok(token, 'the Provider Secret has `token`');
    const pipelineSecret = only<SecretManifest>(management, 'Secret', pipeline.spec.promotion?.strategy.secretRef?.name);
    assert.equal(token, secretValue(pipelineSecret, 'hmac-key'), "the leaf token equals the Pipeline Secret's hmac-key");
  });

  test("the leaf Alert sends the app's info events through that Provider, with Weave's exclusions", () => {
    const alert = only<FluxAlert>(leaf, 'Alert');
    const provider = only<FluxProvider>(leaf, 'Provider');
    assert.equal(alert.spec.providerRef.name, provider.metadata.name);
    assert.equal(alert.metadata.namespace, provider.metadata.namespace);
    assert.equal(alert.spec.eventSeverity, 'info');
    assert.deepEqual(alert.spec.eventSources, [{ kind: pipeline.spec.appRef.kind, name: pipeline.spec.appRef.name }]);
    assert.deepEqual(alert.spec.exclusionList, WEAVE_EXCLUSIONS);
    const event = JSON.parse(readText(join(REPO, 'examples/events/helmrelease-upgrade-succeeded.json'))) as { message: string };
    for (const pattern of WEAVE_EXCLUSIONS) assert.doesNotMatch(event.message, new RegExp(pattern), 'a promoting event is not excluded');
    assert.match('Helm upgrade has started', new RegExp(WEAVE_EXCLUSIONS[0]!));
  });

  test("the management Alert forwards Baton's Promote events about the Pipeline", () => {
    const alert = only<FluxAlert>(management, 'Alert');
    const provider = only<FluxProvider>(management, 'Provider');
    assert.equal(alert.spec.providerRef.name, provider.metadata.name);
    assert.equal(alert.spec.eventSeverity, 'info');
    assert.deepEqual(alert.spec.eventSources, [{ kind: 'Pipeline', name: pipeline.metadata.name, namespace: pipeline.metadata.namespace }]);
    const message = promotionMessage({
      pipeline: { namespace: pipeline.metadata.namespace!, name: pipeline.metadata.name },
      sourceEnvironment: 'dev',
      targetEnvironment: 'test',
      version: '6.7.1',
      workflowId: 'release/flux-system/podinfo-02/6.7.1',
    });
    for (const pattern of alert.spec.inclusionList ?? []) assert.match(message, new RegExp(pattern));
    assert.ok(provider.spec.secretRef && management.some((d) => d.kind === 'Secret' && d.metadata.name === provider.spec.secretRef!.name));
  });

  test('the flux-system patch adds Pipeline to the enum of the Alert version the examples use, guarded by a test op', () => {
    const [kustomization] = readDocuments<KustomizationFile>(join(EXAMPLES, 'flux/management-cluster/flux-system/kustomization.yaml'));
    const [patch] = kustomization!.patches ?? [];
    assert.equal(patch?.target.kind, 'CustomResourceDefinition');
    assert.equal(patch.target.name, 'alerts.notification.toolkit.fluxcd.io');
    const ops = parse(patch.patch) as { op: string; path: string; value: string }[];
    const add = ops.find((o) => o.op === 'add');
    const index =
      /^\/spec\/versions\/(\d+)\/schema\/openAPIV3Schema\/properties\/spec\/properties\/eventSources\/items\/properties\/kind\/enum\/-$/.exec(
        add?.path ?? '',
      )?.[1];
    assert.ok(index !== undefined, `unexpected add path ${add?.path}`);
    assert.equal(add!.value, 'Pipeline');
    const alertVersion = only<FluxAlert>(management, 'Alert').apiVersion.split('/')[1];
    const guard = ops.find((o) => o.op === 'test');
    assert.deepEqual(guard, { op: 'test', path: `/spec/versions/${index}/name`, value: alertVersion });
    assert.ok(ops.indexOf(guard) < ops.indexOf(add!), 'the test op runs before the add');
  });
});

void describe('deploy/chart with helm', () => {
  const helm = serverBinary('helm');
  const dir = mkdtempSync(join(tmpdir(), 'baton-chart-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function valuesFile(name: string, content: unknown): string {
    const path = join(dir, name);
    writeFileSync(path, stringify(content));
    return path;
  }

  const full = {
    temporal: {
      address: 'baton.abc12.tmprl.cloud:7233',
      namespace: 'baton.abc12',
      tls: { enabled: true, serverName: 'baton.abc12.tmprl.cloud', secretName: 'baton-temporal-tls', caKey: 'ca.crt' },
      apiKey: { secretName: 'baton-temporal-api-key' },
    },
    pipelines: { source: 'directory' },
    promotion: { rateLimit: { value: 1_000_000, interval: '1m' }, retry: { delay: '500ms', maxDelay: 3600, threshold: 10, backoff: 1.5 } },
    gateway: { trustedProxies: ['10.0.0.0/8'], allowUnsigned: true },
    events: { address: '' },
    ingress: { enabled: true, className: 'nginx', tls: [{ secretName: 'baton-tls', hosts: ['baton.example.com'] }] },
    rbac: { secretNamespaces: ['flux-system', 'team-a'] },
    extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=768' }],
    metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
  };

  test('helm lint --strict passes with the defaults and with every option set', () => {
    helmLint(helm);
    helmLint(helm, ['-f', valuesFile('full.yaml', full)]);
  });

  test('Helm renders baton.env exactly as this test renders it, for both Deployments', () => {
    for (const [name, overrides] of [
      ['defaults', {}],
      ['full', full],
      ['ingress', { ingress: { enabled: true } }],
    ] as const) {
      const rendered = helmTemplate(helm, ['-f', valuesFile(`${name}.yaml`, overrides)]);
      const merged = parse(readText(join(CHART, 'values.yaml'))) as Record<string, unknown>;
      deepMerge(merged, overrides);
      const expected = renderEnv(merged);
      for (const component of ['gateway', 'worker']) {
        const deployment = rendered.find((d) => d.kind === 'Deployment' && d.metadata.name === `baton-${component}`);
        assert.ok(deployment, `baton-${component} rendered`);
        const env = podTemplate(deployment).spec.containers[0]!.env ?? [];
        assert.deepEqual(env.slice(0, expected.length), expected, `${name}: ${component} env`);
      }
    }
  });

  test('the gateway and the worker run as their own ServiceAccounts, each bound to exactly what it needs', () => {
    const rendered = helmTemplate(helm);
    // The identity each Deployment actually runs as, and what its bindings grant it.
    const names = { gateway: serviceAccountOf(rendered, 'gateway'), worker: serviceAccountOf(rendered, 'worker') };
    const gateway = grantsOfServiceAccount(rendered, { namespace: 'baton-system', name: names.gateway });
    const worker = grantsOfServiceAccount(rendered, { namespace: 'baton-system', name: names.worker });
    assert.deepEqual(
      GATEWAY_MUST_NOT.filter((grant) => gateway.cluster.has(grant)),
      [],
      'the internet-facing gateway can write Events or Pipeline status, or list Secrets',
    );
    assert.deepEqual([...gateway.cluster].sort(), [...EXPECTED_GRANTS.gateway].sort(), 'the gateway');
    assert.deepEqual([...worker.cluster].sort(), [...EXPECTED_GRANTS.worker].sort(), 'the worker');
    assert.deepEqual([gateway.namespaced.size, worker.namespaced.size], [0, 0]);

    assert.deepEqual(names, { gateway: 'baton-gateway', worker: 'baton-worker' });
    const accounts = rendered.filter((d) => d.kind === 'ServiceAccount').map((d) => d.metadata.name);
    assert.deepEqual(accounts.sort(), ['baton-gateway', 'baton-worker'], 'the chart creates both');
  });

  test('rbac.secretNamespaces moves Secrets into Roles both components are bound to', () => {
    const scoped = helmTemplate(helm, ['-f', valuesFile('scoped.yaml', { rbac: { secretNamespaces: ['flux-system', 'team-a'] } })]);
    assert.ok(![...grants(rulesOf(scoped, ['ClusterRole']))].some((g) => g.startsWith('core secrets')));
    const roles = scoped.filter((d) => d.kind === 'Role');
    assert.deepEqual(
      roles.map((r) => r.metadata.namespace),
      ['flux-system', 'team-a'],
    );
    assert.deepEqual([...grants(rulesOf(roles))], ['core secrets get']);
    for (const component of ['gateway', 'worker'] as const) {
      const granted = grantsOfServiceAccount(scoped, { namespace: 'baton-system', name: serviceAccountOf(scoped, component) });
      const withoutSecrets = EXPECTED_GRANTS[component].filter((g) => !g.startsWith('core secrets'));
      assert.deepEqual([...granted.cluster].sort(), withoutSecrets.sort(), component);
      assert.deepEqual(
        [...granted.namespaced].map(([namespace, set]) => [namespace, [...set]]),
        [
          ['flux-system', ['core secrets get']],
          ['team-a', ['core secrets get']],
        ],
        component,
      );
    }
  });

  test('rbac.verifiedResources grants the worker, and only the worker, get on what verification checks read', () => {
    const verified = helmTemplate(helm, [
      '-f',
      valuesFile('verified.yaml', { rbac: { verifiedResources: [{ apiGroup: 'helm.toolkit.fluxcd.io', resources: ['helmreleases'] }] } }),
    ]);
    const granted = (component: 'gateway' | 'worker') =>
      grantsOfServiceAccount(verified, { namespace: 'baton-system', name: serviceAccountOf(verified, component) }).cluster;
    assert.deepEqual([...granted('worker')].sort(), [...EXPECTED_GRANTS.worker, 'helm.toolkit.fluxcd.io helmreleases get'].sort());
    assert.deepEqual([...granted('gateway')].sort(), [...EXPECTED_GRANTS.gateway].sort());
  });

  test('pipelines.source: directory makes no Kubernetes API call and gets no RBAC', () => {
    const rendered = helmTemplate(helm, ['--set', 'pipelines.source=directory']);
    assert.deepEqual(
      rendered.filter((d) => /Role|RoleBinding/.test(d.kind)).map((d) => d.kind),
      [],
    );
  });

  test('serviceAccount names: per component, `default` without create, and the old shared name refused', () => {
    const named = helmTemplate(helm, ['--set', 'serviceAccount.gateway.name=gw', '--set', 'serviceAccount.worker.name=wk']);
    assert.deepEqual([serviceAccountOf(named, 'gateway'), serviceAccountOf(named, 'worker')], ['gw', 'wk']);
    assert.ok(grantsOfServiceAccount(named, { namespace: 'baton-system', name: 'wk' }).cluster.has('core events create'));
    const external = helmTemplate(helm, ['--set', 'serviceAccount.create=false']);
    assert.deepEqual([serviceAccountOf(external, 'gateway'), serviceAccountOf(external, 'worker')], ['default', 'default']);
    assert.equal(external.filter((d) => d.kind === 'ServiceAccount').length, 0);
    assert.throws(
      () => helmTemplate(helm, ['--set', 'serviceAccount.name=baton']),
      (error: Error & { stderr?: string }) => /serviceAccount\.gateway\.name/.test(String(error.stderr)),
    );
  });

  test("behind the chart's Ingress, each forwarded client keeps its own rate-limit bucket", async () => {
    const rendered = helmTemplate(helm, ['--set', 'ingress.enabled=true']);
    const deployment = rendered.find((d) => d.kind === 'Deployment' && d.metadata.name === 'baton-gateway')!;
    const config = loadConfig(envRecord(podTemplate(deployment).spec.containers[0]!.env ?? []));

    const pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
    const app = await testApp({
      pipelines,
      releases: unreachableStarter(),
      config: { ...config.gateway, rateLimit: { max: 2, windowMs: 30_000 } },
    });
    try {
      // Unsigned requests from three clients, all arriving from an ingress controller pod.
      const unsigned = delivery(`${PODINFO}/dev`, fixtureBody(FIXTURES.upgradeSucceeded), { key: 'wrong-key' });
      const codes: number[] = [];
      for (const client of ['192.0.2.1', '192.0.2.1', '198.51.100.2', '203.0.113.3']) {
        const response = await app.inject({
          ...unsigned,
          remoteAddress: '10.42.0.7',
          headers: { ...unsigned.headers, 'x-forwarded-for': client },
        });
        codes.push(response.statusCode);
      }
      assert.deepEqual(codes, [401, 401, 401, 401], 'no client is limited by the others');
      const again = await app.inject({
        ...unsigned,
        remoteAddress: '10.42.0.7',
        headers: { ...unsigned.headers, 'x-forwarded-for': '192.0.2.1' },
      });
      assert.equal(again.statusCode, 429, 'a client is still limited by its own requests');
      assert.equal(config.gateway.trustedProxies.join(','), INGRESS_TRUSTED_PROXIES);
    } finally {
      await app.close();
      await pipelines.stop();
    }
  });

  test('metrics: no ServiceMonitor by default; enabled, one per component, each selecting a Service with the port it scrapes', () => {
    const kinds = (docs: Manifest[]): string[] => docs.map((d) => `${d.kind}/${d.metadata.name}`);
    const defaults = helmTemplate(helm);
    assert.deepEqual(kinds(defaults.filter((d) => d.kind === 'ServiceMonitor' || d.metadata.name.endsWith('worker-metrics'))), []);
    const worker = defaults.find((d) => d.kind === 'Deployment' && d.metadata.name === 'baton-worker')!;
    assert.deepEqual(podTemplate(worker).spec.containers[0]!.ports, [{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    assert.equal(podTemplate(worker).metadata?.annotations?.['prometheus.io/port'], '9464');

    const enabled = helmTemplate(helm, [
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'metrics.serviceMonitor.labels.release=prometheus',
    ]);
    const monitors = enabled.filter((d) => d.kind === 'ServiceMonitor');
    assert.deepEqual(kinds(monitors), ['ServiceMonitor/baton-gateway', 'ServiceMonitor/baton-worker']);
    interface Monitor extends Manifest {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string; interval: string }[] };
    }
    interface Service extends Manifest {
      spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] };
    }
    for (const monitor of monitors as Monitor[]) {
      assert.equal((monitor.metadata.labels as Record<string, string>).release, 'prometheus');
      const selected = (enabled.filter((d) => d.kind === 'Service') as Service[]).filter((service) =>
        Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => (service.metadata.labels as Record<string, string>)[k] === v),
      );
      assert.equal(selected.length, 1, `${monitor.metadata.name} selects one Service`);
      const [endpoint] = monitor.spec.endpoints;
      assert.equal(endpoint?.path, '/metrics');
      assert.equal(endpoint.interval, '30s');
      const servicePort = selected[0]!.spec.ports.find((p) => p.name === endpoint.port);
      assert.ok(servicePort, `${selected[0]!.metadata.name} has the port ${endpoint.port}`);
      // The Service's target is a named container port of the Deployment the Service selects.
      const component = selected[0]!.spec.selector['app.kubernetes.io/component']!;
      const deployment = enabled.find((d) => d.kind === 'Deployment' && d.metadata.name === `baton-${component}`)!;
      assert.ok(podTemplate(deployment).spec.containers[0]!.ports?.some((p) => p.name === servicePort.targetPort));
    }

    const noWorkerMetrics = helmTemplate(helm, ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'worker.metricsPort=0']);
    assert.deepEqual(kinds(noWorkerMetrics.filter((d) => d.kind === 'ServiceMonitor')), ['ServiceMonitor/baton-gateway']);
    const bare = noWorkerMetrics.find((d) => d.kind === 'Deployment' && d.metadata.name === 'baton-worker')!;
    assert.equal(podTemplate(bare).spec.containers[0]!.ports, undefined);
    assert.equal(podTemplate(bare).metadata?.annotations?.['prometheus.io/scrape'], undefined);
  });

  test('TLS and API key settings become mounted files and a secretKeyRef', () => {
    const rendered = helmTemplate(helm, ['-f', valuesFile('full.yaml', full)]);
    const worker = rendered.find((d) => d.kind === 'Deployment' && d.metadata.name === 'baton-worker')!;
    const env = podTemplate(worker).spec.containers[0]!.env ?? [];
    const byName = new Map(env.map((e) => [e.name, e]));
    assert.deepEqual(byName.get('TEMPORAL_API_KEY')?.valueFrom, { secretKeyRef: { name: 'baton-temporal-api-key', key: 'api-key' } });
    assert.equal(byName.get('TEMPORAL_TLS_CERT')?.value, '/etc/baton/temporal-tls/tls.crt');
    assert.equal(byName.get('TEMPORAL_TLS_CA')?.value, '/etc/baton/temporal-tls/ca.crt');
    assert.equal(byName.get('BATON_EVENTS_ADDRESS'), undefined);
    assert.equal(byName.get('NODE_OPTIONS')?.value, '--max-old-space-size=768');
  });

  test('the gateway and the worker, and nothing else, share the decision key of one Secret', () => {
    const keyRefs = (rendered: ReturnType<typeof helmTemplate>) =>
      ['gateway', 'worker'].map((component) => {
        const deployment = rendered.find((d) => d.kind === 'Deployment' && d.metadata.name === `baton-${component}`)!;
        const env = podTemplate(deployment).spec.containers[0]!.env ?? [];
        return env.filter((e) => e.name.startsWith('BATON_DECISION_KEY')).map((e) => [e.name, e.valueFrom]);
      });
    const made = helmTemplate(helm);
    const secret = made.find((d) => d.kind === 'Secret' && d.metadata.name === 'baton-decision-key') as
      { data?: Record<string, string>; metadata: { annotations?: Record<string, string> } } | undefined;
    assert.ok(secret, 'without decisionKey.secretName the chart makes the Secret');
    assert.ok(Buffer.from(secret.data?.['decision-key'] ?? '', 'base64').length >= 32, 'a key long enough for config/config.ts');
    assert.equal(secret.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    const fromChart = [['BATON_DECISION_KEY', { secretKeyRef: { name: 'baton-decision-key', key: 'decision-key' } }]];
    assert.deepEqual(keyRefs(made), [fromChart, fromChart]);

    const own = helmTemplate(helm, [
      '-f',
      valuesFile('decision-key.yaml', { decisionKey: { secretName: 'ours', secretKey: 'now', previousSecretKey: 'before' } }),
    ]);
    assert.equal(own.filter((d) => d.kind === 'Secret').length, 0, "the user's Secret is used, none is made");
    const refs = [
      ['BATON_DECISION_KEY', { secretKeyRef: { name: 'ours', key: 'now' } }],
      ['BATON_DECISION_KEY_PREVIOUS', { secretKeyRef: { name: 'ours', key: 'before' } }],
    ];
    assert.deepEqual(keyRefs(own), [refs, refs]);
  });
});

function deepMerge(target: Record<string, unknown>, source: object): void {
  for (const [key, value] of Object.entries(source)) {
    const current = target[key];
    if (
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      current !== null &&
      typeof current === 'object' &&
      !Array.isArray(current)
    ) {
      deepMerge(current as Record<string, unknown>, value as object);
    } else {
      target[key] = value;
    }
  }
}
