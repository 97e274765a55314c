/**
 * Baton's configuration: environment variables, validated once at boot. Every entry point (gateway,
 * worker, `npm start`, tests) builds its `Config` here; nothing else reads `process.env`.
 */
import { msToNumber } from '@temporalio/common';
import envSchema from 'env-schema';
import type { FromSchema } from 'json-schema-to-ts';
import { hostAllowlist, VERIFY_HOSTS_VARIABLE } from '../activities/http/host-allowlist.js';
import { redactUrl } from '../activities/http/redact-url.js';
import type { ReleasePolicy } from '../model/release.js';
import { providerTaskQueueFor } from '../model/task-queues.js';

/** Every variable Baton reads, with its default: the only place either is declared. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    TEMPORAL_ADDRESS: { type: 'string', default: 'localhost:7233' },
    TEMPORAL_NAMESPACE: { type: 'string', default: 'default' },
    TEMPORAL_API_KEY: { type: 'string' },
    TEMPORAL_TLS: { type: 'boolean', default: false },
    TEMPORAL_TLS_CERT: { type: 'string' },
    TEMPORAL_TLS_KEY: { type: 'string' },
    TEMPORAL_TLS_CA: { type: 'string' },
    TEMPORAL_TLS_SERVER_NAME: { type: 'string' },
    TEMPORAL_UI_URL: { type: 'string', default: 'http://localhost:8233' },
    BATON_TASK_QUEUE: { type: 'string', minLength: 1, default: 'baton-release' },
    /** Default: `<BATON_TASK_QUEUE>-git-provider`. */
    BATON_PROVIDER_TASK_QUEUE: { type: 'string', minLength: 1 },
    BATON_PROVIDER_RATE_LIMIT: { type: 'number', exclusiveMinimum: 0, default: 1 },
    BATON_PIPELINE_SOURCE: { type: 'string', enum: ['directory', 'kubernetes'], default: 'directory' },
    BATON_PIPELINES_DIR: { type: 'string', default: 'examples/pipelines' },
    BATON_HOST: { type: 'string', default: '0.0.0.0' },
    BATON_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8082 },
    BATON_RATE_LIMIT_MAX: { type: 'integer', minimum: 1, default: 20 },
    BATON_RATE_LIMIT_WINDOW: { type: 'string', default: '30s' },
    BATON_TRUSTED_PROXIES: { type: 'string', default: '' },
    BATON_ALLOW_UNSIGNED: { type: 'boolean', default: false },
    BATON_LEGACY_APPROVAL_SIGNATURE: { type: 'boolean', default: false },
    /** The OpenID issuer whose tokens approve (`Authorization: Bearer`); unset, approvals use approval keys only. */
    /**
     * The key the gateway proves its decisions with and the worker checks them with (both hold it,
     * nobody else); unset, decisions through the gateway count as sent through Temporal.
     */
    BATON_DECISION_KEY: { type: 'string', minLength: 32 },
    /** The key before a rotation: still accepted by the worker until every gateway signs with the new one. */
    BATON_DECISION_KEY_PREVIOUS: { type: 'string', minLength: 32 },
    BATON_OIDC_ISSUER: { type: 'string', minLength: 1 },
    /** The `aud` an approval token must carry; required with the issuer. */
    BATON_OIDC_AUDIENCE: { type: 'string', minLength: 1 },
    BATON_OIDC_USER_CLAIM: { type: 'string', minLength: 1, default: 'email' },
    BATON_OIDC_GROUPS_CLAIM: { type: 'string', minLength: 1, default: 'groups' },
    /** Event reasons meaning "this version now runs there": helm-controller's install and upgrade, kustomize-controller's reconciliation. */
    BATON_PROMOTING_REASONS: { type: 'string', default: 'InstallSucceeded,UpgradeSucceeded,ReconciliationSucceeded' },
    BATON_SIGNAL_TIMEOUT: { type: 'string', default: '5s' },
    /** The retry defaults are Weave's `delay: 2`, `maxDelay: 20`, `threshold: 3`. */
    BATON_RETRY_INITIAL_INTERVAL: { type: 'string', default: '2s' },
    BATON_RETRY_BACKOFF: { type: 'number', minimum: 1, default: 2 },
    BATON_RETRY_MAX_INTERVAL: { type: 'string', default: '20s' },
    BATON_RETRY_MAX_ATTEMPTS: { type: 'integer', minimum: 1, default: 3 },
    BATON_ACTIVITY_TIMEOUT: { type: 'string', default: '1m' },
    BATON_RELEASE_IDLE_TIMEOUT: { type: 'string', default: '30d' },
    /** Default: the idle timeout. */
    BATON_APPROVAL_TIMEOUT: { type: 'string' },
    BATON_EVENTS_ADDRESS: { type: 'string' },
    /** The gateway as approvers reach it: release notices name its approval endpoint (and `baton approve|reject` send there). */
    BATON_GATEWAY_URL: { type: 'string', minLength: 1 },
    /** Git hosts the pull-request strategy may contact (`git.example.com`, `*.example.com`); empty: any. */
    BATON_GIT_HOSTS: { type: 'string', default: '' },
    /** Hosts the http and promql verification checks may contact (same patterns); empty: any. */
    BATON_VERIFY_HOSTS: { type: 'string', default: '' },
    /** The worker's Prometheus endpoint (Baton's and the Temporal SDK's metrics); 0: none. */
    BATON_WORKER_METRICS_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 9464 },
    /**
     * Where traces go over OTLP/HTTP (`<endpoint>/v1/traces`); unset, nothing traces. The OpenTelemetry
     * SDK reads the other standard OTEL_* variables (headers, timeouts, resource attributes) itself.
     */
    OTEL_EXPORTER_OTLP_ENDPOINT: { type: 'string', minLength: 1 },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
  },
} as const;

/** The validated environment: defaulted variables are always present. */
type Env = FromSchema<typeof configSchema>;

export interface TemporalConfig {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?: { clientCertPath?: string; clientKeyPath?: string; serverRootCaPath?: string; serverName?: string };
  uiUrl: string;
  taskQueue: string;
  /** The task queue of git provider API calls (default: `<taskQueue>-git-provider`). */
  providerTaskQueue: string;
  /** Activities per second the Temporal server hands out on the provider task queue, all workers together. */
  providerRateLimit: number;
}

export interface GatewayConfig {
  host: string;
  port: number;
  rateLimit: { max: number; windowMs: number };
  /** Addresses or CIDRs whose `X-Forwarded-For` is believed. Empty: the socket address is the client. */
  trustedProxies: string[];
  /** Accept events for Pipelines without `spec.promotion.strategy.secretRef` (Weave's silent default). */
  allowUnsigned: boolean;
  /**
   * Accept Weave's approval signature (an HMAC over an empty body: no timestamp, no approver, the
   * same value for every approval of a Pipeline, so it can be replayed). Off by default.
   */
  legacyApprovalSignature: boolean;
  /** Approvals by OpenID Connect tokens; absent, approvals are signed with approval keys only. */
  oidc?: OidcConfig;
  promotingReasons: string[];
  /** How long an accepted event may wait for Temporal before the gateway answers 503. */
  signalTimeoutMs: number;
}

export interface WorkerConfig {
  /** Port of the worker's `/metrics` (on every interface); 0 serves none. */
  metricsPort: number;
}

export interface TracingConfig {
  /** The OTLP/HTTP base URL, e.g. `http://otel-collector:4318`; traces go to its `/v1/traces`. */
  endpoint: string;
}

export interface OidcConfig {
  /** The issuer exactly as its discovery document and its tokens' `iss` name it. */
  issuer: string;
  /** The `aud` an approval token must carry (the client ID, or the API identifier the IdP puts there). */
  audience: string;
  /** The claim naming the approver (default `email`). */
  userClaim: string;
  /** The claim listing the approver's groups (default `groups`). */
  groupsClaim: string;
  /** How long a token naming an unknown key waits before the JWKS is fetched again (default 30 s; tests shorten it). */
  jwksCooldownMs?: number;
}

export type PipelineSourceConfig = { kind: 'directory'; directory: string } | { kind: 'kubernetes' };

export interface Config {
  temporal: TemporalConfig;
  gateway: GatewayConfig;
  worker: WorkerConfig;
  pipelines: PipelineSourceConfig;
  releasePolicy: ReleasePolicy;
  /** Flux notification-controller's event receiver, for the notification strategy and release notices. */
  eventsAddress?: string;
  /** The gateway's public URL, for the approval endpoint release notices name; absent, they name none. */
  gatewayUrl?: string;
  /**
   * The hosts a pull-request repository URL may name, for git and the provider API alike: host
   * names or `*.suffix` patterns. Empty: any host.
   */
  gitHosts: string[];
  /** Hosts verification checks may contact (`BATON_VERIFY_HOSTS`); empty: any. */
  verifyHosts: string[];
  /**
   * BATON_DECISION_KEY, then BATON_DECISION_KEY_PREVIOUS: the gateway proves decisions with the first,
   * the worker accepts either. Empty: the gateway proves nothing.
   */
  decisionKeys: string[];
  /** OpenTelemetry tracing of requests, workflows and activities; absent, none is set up. */
  tracing?: TracingConfig;
  logLevel: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function duration(name: string, value: string): number {
  let ms: number;
  try {
    ms = msToNumber(value as Parameters<typeof msToNumber>[0]);
  } catch {
    ms = Number.NaN;
  }
  if (!Number.isFinite(ms) || ms < 0) {
    throw new ConfigError(`${name}: '${value}' is not a duration (examples: 500ms, 2s, 20 seconds, 30d)`);
  }
  return ms;
}

/**
 * The OIDC settings, checked together: an issuer without an audience would accept any token the IdP
 * issues for any of its clients, and a plain-http issuer lets anyone on the path swap its keys
 * (loopback excepted, for local identity providers and tests).
 */
function oidcConfig(raw: Env): { oidc?: OidcConfig } {
  const issuer = raw.BATON_OIDC_ISSUER;
  if (issuer === undefined) {
    if (raw.BATON_OIDC_AUDIENCE !== undefined) throw new ConfigError('BATON_OIDC_AUDIENCE is set without BATON_OIDC_ISSUER');
    return {};
  }
  if (raw.BATON_OIDC_AUDIENCE === undefined) {
    throw new ConfigError('BATON_OIDC_ISSUER needs BATON_OIDC_AUDIENCE: the audience approval tokens are issued for');
  }
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError(`BATON_OIDC_ISSUER: '${issuer}' is not a URL`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError(`BATON_OIDC_ISSUER: '${issuer}' must be https (plain http only on loopback)`);
  }
  return {
    oidc: {
      issuer,
      audience: raw.BATON_OIDC_AUDIENCE,
      userClaim: raw.BATON_OIDC_USER_CLAIM,
      groupsClaim: raw.BATON_OIDC_GROUPS_CLAIM,
    },
  };
}

function decisionKeys(raw: Env): string[] {
  if (raw.BATON_DECISION_KEY === undefined) {
    if (raw.BATON_DECISION_KEY_PREVIOUS !== undefined) {
      throw new ConfigError('BATON_DECISION_KEY_PREVIOUS is set without BATON_DECISION_KEY');
    }
    return [];
  }
  return [raw.BATON_DECISION_KEY, ...(raw.BATON_DECISION_KEY_PREVIOUS === undefined ? [] : [raw.BATON_DECISION_KEY_PREVIOUS])];
}

/** An http(s) URL, or the boot stops: a typo would otherwise only show in the first approval notice. */
function gatewayUrl(value: string | undefined): { gatewayUrl?: string } {
  if (value === undefined) return {};
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new ConfigError(`BATON_GATEWAY_URL: '${redactUrl(value)}' is not an http(s) URL (example: https://baton.example.com)`);
  }
  return { gatewayUrl: value };
}

/** An http(s) URL, or the boot stops: a typo would otherwise only show as traces that never arrive. */
function tracingConfig(value: string | undefined): { tracing?: TracingConfig } {
  if (value === undefined) return {};
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_ENDPOINT: '${redactUrl(value)}' is not an http(s) URL (example: http://otel-collector:4318)`);
  }
  return { tracing: { endpoint: value } };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  let raw: Env;
  try {
    raw = envSchema<Env>({ schema: configSchema, data: env, env: false, dotenv: false });
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
  const tlsFiles = raw.TEMPORAL_TLS_CERT ?? raw.TEMPORAL_TLS_KEY ?? raw.TEMPORAL_TLS_CA;
  const useTls = raw.TEMPORAL_TLS || raw.TEMPORAL_API_KEY !== undefined || tlsFiles !== undefined;
  const providerTaskQueue = raw.BATON_PROVIDER_TASK_QUEUE ?? providerTaskQueueFor(raw.BATON_TASK_QUEUE);
  if ((raw.TEMPORAL_TLS_CERT === undefined) !== (raw.TEMPORAL_TLS_KEY === undefined)) {
    throw new ConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both or neither');
  }
  const gitHosts = list(raw.BATON_GIT_HOSTS);
  const verifyHosts = list(raw.BATON_VERIFY_HOSTS);
  try {
    // A typo must stop the boot, not allow everything or nothing at the first promotion.
    hostAllowlist(gitHosts);
    hostAllowlist(verifyHosts, VERIFY_HOSTS_VARIABLE);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  return {
    temporal: {
      address: raw.TEMPORAL_ADDRESS,
      namespace: raw.TEMPORAL_NAMESPACE,
      apiKey: raw.TEMPORAL_API_KEY,
      tls: useTls
        ? {
            clientCertPath: raw.TEMPORAL_TLS_CERT,
            clientKeyPath: raw.TEMPORAL_TLS_KEY,
            serverRootCaPath: raw.TEMPORAL_TLS_CA,
            serverName: raw.TEMPORAL_TLS_SERVER_NAME,
          }
        : undefined,
      uiUrl: raw.TEMPORAL_UI_URL.replace(/\/+$/, ''),
      taskQueue: raw.BATON_TASK_QUEUE,
      providerTaskQueue,
      providerRateLimit: raw.BATON_PROVIDER_RATE_LIMIT,
    },
    gateway: {
      host: raw.BATON_HOST,
      port: raw.BATON_PORT,
      rateLimit: {
        max: raw.BATON_RATE_LIMIT_MAX,
        windowMs: duration('BATON_RATE_LIMIT_WINDOW', raw.BATON_RATE_LIMIT_WINDOW),
      },
      trustedProxies: list(raw.BATON_TRUSTED_PROXIES),
      allowUnsigned: raw.BATON_ALLOW_UNSIGNED,
      legacyApprovalSignature: raw.BATON_LEGACY_APPROVAL_SIGNATURE,
      ...oidcConfig(raw),
      promotingReasons: list(raw.BATON_PROMOTING_REASONS),
      signalTimeoutMs: duration('BATON_SIGNAL_TIMEOUT', raw.BATON_SIGNAL_TIMEOUT),
    },
    worker: { metricsPort: raw.BATON_WORKER_METRICS_PORT },
    pipelines:
      raw.BATON_PIPELINE_SOURCE === 'kubernetes' ? { kind: 'kubernetes' } : { kind: 'directory', directory: raw.BATON_PIPELINES_DIR },
    releasePolicy: {
      activityRetry: {
        initialInterval: duration('BATON_RETRY_INITIAL_INTERVAL', raw.BATON_RETRY_INITIAL_INTERVAL),
        backoffCoefficient: raw.BATON_RETRY_BACKOFF,
        maximumInterval: duration('BATON_RETRY_MAX_INTERVAL', raw.BATON_RETRY_MAX_INTERVAL),
        maximumAttempts: raw.BATON_RETRY_MAX_ATTEMPTS,
      },
      activityTimeout: duration('BATON_ACTIVITY_TIMEOUT', raw.BATON_ACTIVITY_TIMEOUT),
      idleTimeout: duration('BATON_RELEASE_IDLE_TIMEOUT', raw.BATON_RELEASE_IDLE_TIMEOUT),
      // Unset, the workflow derives it from its own task queue, as `providerTaskQueue` above is derived.
      ...(raw.BATON_PROVIDER_TASK_QUEUE === undefined ? {} : { providerTaskQueue: raw.BATON_PROVIDER_TASK_QUEUE }),
      ...(raw.BATON_APPROVAL_TIMEOUT === undefined
        ? {}
        : { approvalTimeout: duration('BATON_APPROVAL_TIMEOUT', raw.BATON_APPROVAL_TIMEOUT) }),
    },
    eventsAddress: raw.BATON_EVENTS_ADDRESS,
    ...gatewayUrl(raw.BATON_GATEWAY_URL),
    gitHosts,
    verifyHosts,
    decisionKeys: decisionKeys(raw),
    ...tracingConfig(raw.OTEL_EXPORTER_OTLP_ENDPOINT),
    logLevel: raw.LOG_LEVEL,
  };
}

/** The configuration of an empty environment: for tests and tools that configure nothing. */
export function defaultConfig(): Config {
  return loadConfig({});
}
