/**
 * A real etcd + kube-apiserver for tests, started the way controller-runtime's envtest
 * starts them, plus `--advertise-address=127.0.0.1` and a static token file. No controller-manager
 * runs: namespaces are never finalised and no service accounts appear, so tests create what they
 * need and use throw-away names.
 */
import { freePort } from '../support/free-port.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiextensionsV1Api, ApiException, CoreV1Api, KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { serverBinary } from './binaries.js';

const STARTUP_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;
/** A restart stands for a crash or a rollout; there is no need to wait for watches to drain. */
const RESTART_GRACE_MS = 1_000;
const LOG_TAIL_LINES = 40;

/** A user that can authenticate but has no RBAC bindings: every request it makes is forbidden. */
export const RESTRICTED_USER = 'baton-restricted';

export interface KubeApiServer {
  kubeconfigPath: string;
  /** Authenticated as an admin (group system:masters). */
  kubeConfig: KubeConfig;
  server: string;
  token: string;
  /** A KubeConfig for RESTRICTED_USER, to exercise 403 handling. */
  restrictedKubeConfig: KubeConfig;
  /** Stops and starts kube-apiserver alone (etcd keeps the data), e.g. to break open watches. */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logPath: string;
  exited: Promise<void>;
}

const running = new Set<ManagedProcess>();

// A test file that crashes must not leave servers behind holding ports and temp dirs.
process.once('exit', () => {
  for (const managed of running) managed.child.kill('SIGKILL');
});

function launch(name: string, binary: string, args: string[], logPath: string): ManagedProcess {
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running.delete(managed);
      log.end();
      resolve();
    });
  });
  const managed: ManagedProcess = { name, child, logPath, exited };
  running.add(managed);
  return managed;
}

/** SIGTERM, then SIGKILL after `graceMs`: kube-apiserver waits for open watches to end otherwise. */
async function terminate(managed: ManagedProcess, graceMs = STOP_TIMEOUT_MS): Promise<void> {
  if (managed.child.exitCode !== null || managed.child.signalCode !== null) return;
  managed.child.kill('SIGTERM');
  const grace = new AbortController();
  const killed = sleep(graceMs, undefined, { signal: grace.signal }).then(
    () => managed.child.kill('SIGKILL'),
    () => undefined,
  );
  await managed.exited;
  // A pending timer would keep the test process alive for the rest of the grace period.
  grace.abort();
  await killed;
}

async function logTail(managed: ManagedProcess): Promise<string> {
  const text = await readFile(managed.logPath, 'utf8').catch(() => '');
  return text.split('\n').slice(-LOG_TAIL_LINES).join('\n');
}

/** Resolves once `probe` answers true; rejects with the process's log tail if it exits or times out. */
async function waitUntil(managed: ManagedProcess, what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let exited = false;
  void managed.exited.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    if (await probe()) return;
    await sleep(200);
  }
  const reason = exited ? `exited with ${managed.child.exitCode ?? managed.child.signalCode}` : 'timed out';
  throw new Error(`${managed.name} ${reason} before ${what}; last log lines (${managed.logPath}):\n${await logTail(managed)}`);
}

interface HttpsProbe {
  port: number;
  path: string;
  token: string;
  ca: string;
}

function httpsStatus({ port, path, token, ca }: HttpsProbe): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function etcdArgs(dataDir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    // Test data is thrown away; fsync only slows every write down.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}

interface ApiServerFiles {
  certDir: string;
  tokenFile: string;
  serviceAccountPublicKey: string;
  serviceAccountPrivateKey: string;
}

function apiServerArgs(files: ApiServerFiles, securePort: number, etcdUrl: string): string[] {
  return [
    '--advertise-address=127.0.0.1',
    '--bind-address=127.0.0.1',
    `--secure-port=${securePort}`,
    `--etcd-servers=${etcdUrl}`,
    `--cert-dir=${files.certDir}`,
    `--token-auth-file=${files.tokenFile}`,
    '--authorization-mode=RBAC',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    // Nothing creates the `default` ServiceAccount without a controller-manager (envtest does the same).
    '--disable-admission-plugins=ServiceAccount',
    `--service-account-issuer=https://127.0.0.1:${securePort}/`,
    `--service-account-key-file=${files.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${files.serviceAccountPrivateKey}`,
  ];
}

async function writeServiceAccountKeys(dir: string): Promise<Pick<ApiServerFiles, 'serviceAccountPublicKey' | 'serviceAccountPrivateKey'>> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const serviceAccountPublicKey = join(dir, 'sa.pub');
  const serviceAccountPrivateKey = join(dir, 'sa.key');
  await writeFile(serviceAccountPublicKey, publicKey);
  await writeFile(serviceAccountPrivateKey, privateKey, { mode: 0o600 });
  return { serviceAccountPublicKey, serviceAccountPrivateKey };
}

/**
 * kube-apiserver writes a self-signed serving certificate for `localhost`/127.0.0.1 into --cert-dir,
 * followed by the CA that signed it; that CA is what clients should trust.
 */
async function servingCa(certDir: string): Promise<string> {
  const pem = await readFile(join(certDir, 'apiserver.crt'), 'utf8');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  const ca = blocks.at(-1);
  if (ca === undefined) throw new Error(`${certDir}/apiserver.crt holds no certificate`);
  return ca;
}

function kubeConfigFor(server: string, ca: string, user: string, token: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'baton-test', server, caData: Buffer.from(ca).toString('base64'), skipTLSVerify: false }],
    users: [{ name: user, token }],
    contexts: [{ name: 'baton-test', cluster: 'baton-test', user }],
    currentContext: 'baton-test',
  });
  return kubeConfig;
}

/** JSON is YAML: kubectl and loadFromFile read it as a kubeconfig. */
function kubeconfigFile(server: string, ca: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'baton-test', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'baton-test', context: { cluster: 'baton-test', user: 'admin' } }],
    'current-context': 'baton-test',
  });
}

async function startEtcd(dir: string): Promise<{ process: ManagedProcess; url: string }> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const etcd = launch('etcd', serverBinary('etcd'), etcdArgs(join(dir, 'etcd'), clientPort, peerPort), join(dir, 'etcd.log'));
  await waitUntil(etcd, 'answering /health', async () => {
    const response = await fetch(`${url}/health`).catch(() => undefined);
    return response?.ok === true;
  });
  return { process: etcd, url };
}

async function startApiServer(dir: string, args: string[], port: number, token: string): Promise<ManagedProcess> {
  const apiServer = launch('kube-apiserver', serverBinary('kube-apiserver'), args, join(dir, 'kube-apiserver.log'));
  const certDir = join(dir, 'certs');
  await waitUntil(apiServer, 'answering /readyz', async () => {
    const ca = await servingCa(certDir).catch(() => undefined);
    return ca !== undefined && (await httpsStatus({ port, path: '/readyz', token, ca })) === 200;
  });
  return apiServer;
}

/** Starts etcd and kube-apiserver on free loopback ports in a fresh temp dir; `stop()` removes both. */
export async function startKubeApiServer(): Promise<KubeApiServer> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-kube-'));
  const token = randomBytes(24).toString('hex');
  const restrictedToken = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'tokens.csv');
  await writeFile(
    tokenFile,
    `${token},baton-admin,baton-admin,"system:masters"\n${restrictedToken},${RESTRICTED_USER},${RESTRICTED_USER}\n`,
    { mode: 0o600 },
  );
  const files: ApiServerFiles = { certDir: join(dir, 'certs'), tokenFile, ...(await writeServiceAccountKeys(dir)) };

  const processes: ManagedProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const managed of [...processes].reverse()) await terminate(managed);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const etcd = await startEtcd(dir);
    processes.push(etcd.process);
    const port = await freePort();
    const args = apiServerArgs(files, port, etcd.url);
    let apiServer = await startApiServer(dir, args, port, token);
    processes.push(apiServer);

    const server = `https://127.0.0.1:${port}`;
    const ca = await servingCa(files.certDir);
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigFile(server, ca, token), { mode: 0o600 });
    return {
      kubeconfigPath,
      kubeConfig: kubeConfigFor(server, ca, 'admin', token),
      restrictedKubeConfig: kubeConfigFor(server, ca, RESTRICTED_USER, restrictedToken),
      server,
      token,
      async restartApiServer() {
        await terminate(apiServer, RESTART_GRACE_MS);
        processes.splice(processes.indexOf(apiServer), 1);
        apiServer = await startApiServer(dir, args, port, token);
        processes.push(apiServer);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

const CRD_PATH = new URL('../../deploy/crds/pipelines.weave.works_pipelines.yaml', import.meta.url);

function isEstablished(crd: V1CustomResourceDefinition): boolean {
  return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
}

/** Creates (or replaces) the Pipeline CRD from deploy/crds and waits until the apiserver serves it. */
export async function applyPipelineCrd(kubeConfig: KubeConfig): Promise<V1CustomResourceDefinition> {
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const body = parse(await readFile(CRD_PATH, 'utf8')) as V1CustomResourceDefinition;
  const name = body.metadata?.name ?? '';
  try {
    await api.createCustomResourceDefinition({ body, fieldValidation: 'Strict' });
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 409)) throw error;
    const existing = await api.readCustomResourceDefinition({ name });
    body.metadata = { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion };
    await api.replaceCustomResourceDefinition({ name, body, fieldValidation: 'Strict' });
  }
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const crd = await api.readCustomResourceDefinition({ name });
    if (isEstablished(crd)) return crd;
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established: ${JSON.stringify(crd.status?.conditions)}`);
    await sleep(100);
  }
}

/** Creates a namespace unless it exists (namespaces are never deleted: nothing would finalise them). */
export async function ensureNamespace(kubeConfig: KubeConfig, name: string): Promise<void> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  try {
    await api.createNamespace({ body: { metadata: { name } } });
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 409)) throw error;
  }
}

export { eventually } from '../support/eventually.js';
