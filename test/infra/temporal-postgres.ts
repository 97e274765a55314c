/**
 * A production Temporal for tests: the server built from go.temporal.io/server on a throwaway
 * PostgreSQL cluster (Debian's), set up the way an operator sets up a self-hosted cluster —
 * `initdb`/`pg_ctl`, `temporal-sql-tool` creating both databases and applying the versioned
 * schemas, `temporal-server start` with SQL visibility, the namespace and Baton's search attributes
 * registered through the API. Free ports, one temp dir, all of it stopped and removed by teardown.
 * README.md "Production" lists the same steps for an operator.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { msToTs } from '@temporalio/common/lib/time.js';
import protos from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { RELEASE_SEARCH_ATTRIBUTES } from '../../model/search-attributes.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/free-port.js';
import { serverBinary } from './binaries.js';

const run = promisify(execFile);
const USER = 'temporal';
const NAMESPACE = 'default';
const DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;

export interface TemporalPostgresOptions {
  /**
   * PostgreSQL's fsync (default off: the cluster is thrown away after the test, and fsync on a
   * shared CI disk only makes tests slower). A benchmark turns it on to measure what production pays.
   */
  fsync?: boolean;
}

/**
 * PostgreSQL refuses to run as root: when the tests do, it runs as `nobody`, in a directory that
 * user owns. Returns the command prefix and the owner to give the directory.
 */
function unprivileged(): { prefix: string[]; owner?: { uid: number; gid: number } } {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
  const [uid, gid] = [id('-u'), id('-g')];
  return { prefix: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'], owner: { uid, gid } };
}

function runAs(prefix: string[], command: string, args: string[]): Promise<{ stdout: string }> {
  const [file, ...rest] = [...prefix, command, ...args];
  return run(file!, rest);
}

interface Postgres {
  port: number;
  password: string;
  stop(): Promise<void>;
}

/** initdb + pg_ctl start of a cluster in `dir`, listening on loopback only; its superuser is `temporal`. */
async function startPostgres(dir: string, options: TemporalPostgresOptions): Promise<Postgres> {
  const bin = serverBinary('postgresql');
  const { prefix, owner } = unprivileged();
  const password = randomBytes(18).toString('base64url');
  const passwordFile = join(dir, 'pgpass');
  await writeFile(passwordFile, password, { mode: 0o600 });
  if (owner !== undefined) {
    await chown(dir, owner.uid, owner.gid);
    await chown(passwordFile, owner.uid, owner.gid);
  }
  const data = join(dir, 'pgdata');
  await runAs(prefix, join(bin, 'initdb'), [
    '--pgdata',
    data,
    '--username',
    USER,
    `--pwfile=${passwordFile}`,
    '--auth',
    'scram-sha-256',
    '--encoding',
    'UTF8',
    '--no-sync',
  ]);
  const port = await freePort();
  const settings = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', `-c fsync=${options.fsync === true ? 'on' : 'off'}`];
  await runAs(prefix, join(bin, 'pg_ctl'), [
    'start',
    '--pgdata',
    data,
    '--wait',
    '--log',
    join(dir, 'postgres.log'),
    '-o',
    settings.join(' '),
  ]);
  return {
    port,
    password,
    async stop() {
      await runAs(prefix, join(bin, 'pg_ctl'), ['stop', '--pgdata', data, '--wait', '--mode', 'fast']);
    },
  };
}

/** What an operator runs once per database: create it, set up the base schema, apply every versioned step. */
async function setUpSchemas(postgres: Postgres): Promise<void> {
  const sqlTool = serverBinary('temporal-sql-tool');
  const schemaRoot = join(serverBinary('temporal-server-source'), 'schema/postgresql/v12');
  const connection = [
    '--plugin',
    'postgres12',
    '--endpoint',
    '127.0.0.1',
    '--port',
    String(postgres.port),
    '--user',
    USER,
    '--password',
    postgres.password,
  ];
  for (const [schema, database] of Object.entries(DATABASES)) {
    const tool = (...args: string[]) => run(sqlTool, [...connection, '--database', database, ...args]);
    await tool('create-database');
    await tool('setup-schema', '--version', '0.0');
    await tool('update-schema', '--schema-dir', join(schemaRoot, schema, 'versioned'));
  }
}

interface ServerPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

/**
 * A port free on loopback below 32768: the server records its members' ports in PostgreSQL as
 * `smallint` (cluster_membership.rpc_port), and the kernel's own free ports are all above that.
 */
async function lowFreePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

async function serverPorts(): Promise<ServerPorts> {
  const names = [
    'frontend',
    'frontendHttp',
    'frontendMembership',
    'history',
    'historyMembership',
    'matching',
    'matchingMembership',
    'worker',
    'workerMembership',
  ] as const;
  const ports = new Set<number>();
  while (ports.size < names.length) ports.add(await lowFreePort(ports));
  const list = [...ports];
  return Object.fromEntries(names.map((name, i) => [name, list[i]])) as unknown as ServerPorts;
}

/** config/development-postgres12.yaml of the module, on our ports and credentials, without archival or pprof. */
function serverConfig(postgres: Postgres, ports: ServerPorts, dynamicConfigPath: string): string {
  const datastore = (database: string, conns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${database}
        connectAddr: 127.0.0.1:${postgres.port}
        connectProtocol: tcp
        user: ${USER}
        password: ${JSON.stringify(postgres.password)}
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: 1h`;
  const service = (grpc: number, membership: number, http?: number) => `
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnLocalHost: true${http === undefined ? '' : `\n      httpPort: ${http}`}`;
  return `log:
  stdout: true
  level: error
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:${datastore(DATABASES.temporal, 20)}
    postgres-visibility:${datastore(DATABASES.visibility, 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:${service(ports.frontend, ports.frontendMembership, ports.frontendHttp)}
  history:${service(ports.history, ports.historyMembership)}
  matching:${service(ports.matching, ports.matchingMembership)}
  worker:${service(ports.worker, ports.workerMembership)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${ports.frontend}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${dynamicConfigPath}
  pollInterval: 10s
`;
}

/**
 * The server caches namespaces (and with them SQL visibility's search attributes) for seconds; an
 * operator registers them once ahead of time, a test right before use, so the caches are read
 * through. Nothing else differs from the server's defaults.
 */
const DYNAMIC_CONFIG = `system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
    constraints: {}
`;

function startServer(dir: string, configPath: string): Promise<{ child: ChildProcess; logPath: string }> {
  const logPath = join(dir, 'temporal-server.log');
  return open(logPath, 'w').then(async (log) => {
    const child = spawn(serverBinary('temporal-server'), ['--config-file', configPath, '--allow-no-auth', 'start'], {
      stdio: ['ignore', log.fd, log.fd],
    });
    await log.close();
    return { child, logPath };
  });
}

/** Runs a registration; one already made counts as done. */
async function registered(call: () => Promise<unknown>): Promise<true> {
  try {
    await call();
  } catch (error) {
    if (!/already exists/i.test((error as Error).message)) throw error;
  }
  return true;
}

async function registerNamespaceAndSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const { workflowService, operatorService } = env.connection;
  await eventually('the Temporal frontend to register the namespace', () =>
    registered(() => workflowService.registerNamespace({ namespace: NAMESPACE, workflowExecutionRetentionPeriod: msToTs('1 day') })),
  );
  const keyword = protos.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await eventually('the namespace to take search attributes', () =>
    registered(() =>
      operatorService.addSearchAttributes({
        namespace: NAMESPACE,
        searchAttributes: Object.fromEntries(RELEASE_SEARCH_ATTRIBUTES.map((key) => [key.name, keyword])),
      }),
    ),
  );
  // Visibility answers a query on them once its mapping knows them.
  await eventually('visibility to know the search attributes', async () => {
    await workflowService.listWorkflowExecutions({ namespace: NAMESPACE, query: `${RELEASE_SEARCH_ATTRIBUTES[0].name} = 'probe'` });
    return true;
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

/**
 * Starts PostgreSQL and the Temporal server on it; resolves once the `default` namespace takes
 * workflows with Baton's search attributes. `teardown()` stops both and removes every file.
 */
export async function startPostgresServer(options: TemporalPostgresOptions = {}): Promise<TestWorkflowEnvironment> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-temporal-pg-'));
  const cleanups: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  const cleanUp = async (): Promise<void> => {
    for (const step of cleanups.splice(0).reverse()) await step();
  };
  let server: { child: ChildProcess; logPath: string } | undefined;
  try {
    const postgres = await startPostgres(dir, options);
    cleanups.push(() => postgres.stop());
    await setUpSchemas(postgres);
    const ports = await serverPorts();
    const dynamicConfigPath = join(dir, 'dynamicconfig.yaml');
    await writeFile(dynamicConfigPath, DYNAMIC_CONFIG);
    const configPath = join(dir, 'temporal-server.yaml');
    await writeFile(configPath, serverConfig(postgres, ports, dynamicConfigPath));
    server = await startServer(dir, configPath);
    const child = server.child;
    cleanups.push(() => stopProcess(child));
    const env = await eventually('the Temporal frontend to listen', () => {
      if (child.exitCode !== null) throw new Error(`temporal-server exited with code ${child.exitCode}`);
      return TestWorkflowEnvironment.createFromExistingServer({ address: `127.0.0.1:${ports.frontend}`, namespace: NAMESPACE });
    });
    const closeConnections = env.teardown.bind(env);
    cleanups.push(closeConnections);
    await registerNamespaceAndSearchAttributes(env);
    // The environment's own teardown closes its connections; this one also stops the servers.
    return Object.assign(env, { teardown: cleanUp });
  } catch (error) {
    const log = server === undefined ? '' : await readFile(server.logPath, 'utf8').catch(() => '');
    await cleanUp();
    throw new Error(`the Temporal server on PostgreSQL did not start: ${(error as Error).message}\n${log.slice(-4000)}`, { cause: error });
  }
}
