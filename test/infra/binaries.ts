/**
 * Paths of the real server binaries tests use. `npm test` exports them (scripts/test.sh); running a
 * test file alone falls back to scripts/setup-servers.sh, which reuses its cache.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SETUP_SCRIPT = fileURLToPath(new URL('../../scripts/setup-servers.sh', import.meta.url));

const ENV_BY_COMPONENT = {
  temporal: 'BATON_TEMPORAL_BIN',
  'test-server': 'BATON_TEST_SERVER_BIN',
  etcd: 'BATON_ETCD_BIN',
  'kube-apiserver': 'BATON_KUBE_APISERVER_BIN',
  'notification-controller': 'BATON_NOTIFICATION_CONTROLLER_BIN',
  tctl: 'BATON_TCTL_BIN',
  helm: 'BATON_HELM_BIN',
  prometheus: 'BATON_PROMETHEUS_BIN',
  chromium: 'BATON_CHROMIUM_BIN',
  'temporal-server': 'BATON_TEMPORAL_SERVER_BIN',
  'temporal-sql-tool': 'BATON_TEMPORAL_SQL_TOOL_BIN',
  /** A directory: go.temporal.io/server's module source (its SQL schemas under schema/postgresql/v12/). */
  'temporal-server-source': 'BATON_TEMPORAL_SERVER_SOURCE',
  /** A directory: the bin/ of Debian's PostgreSQL (initdb, pg_ctl, postgres). */
  postgresql: 'BATON_POSTGRESQL_BIN_DIR',
  /** A directory, not a binary: the pinned notification-controller module's source (its CRDs). */
  'notification-controller-source': 'BATON_NOTIFICATION_CONTROLLER_SOURCE',
} as const;

export type ServerComponent = keyof typeof ENV_BY_COMPONENT;

export function serverBinary(component: ServerComponent): string {
  const variable = ENV_BY_COMPONENT[component];
  const fromEnv = process.env[variable];
  if (fromEnv) return fromEnv;
  const output = execFileSync('bash', [SETUP_SCRIPT, component], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const line = output.split('\n').find((l) => l.startsWith(`${component}=`));
  if (line === undefined) throw new Error(`scripts/setup-servers.sh did not provide ${component}`);
  const path = line.slice(component.length + 1);
  process.env[variable] = path;
  return path;
}
