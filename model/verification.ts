/**
 * Verification after deploy: the checks a version must pass in an environment it reached (every
 * target reported, and its soak, if any, over) before it moves on, from the Pipeline annotation
 * `promotion.baton.dev/verify.<env>`, a YAML (or JSON) list of checks:
 *
 *   - {name: healthz, type: http, url: 'http://podinfo.podinfo-02-qa:9898/healthz', samples: 3, interval: 10s}
 *   - {name: error rate, type: promql, prometheus: 'http://prometheus.monitoring:9090', query: '…', threshold: '< 0.01', for: 5m, interval: 1m}
 *   - {name: podinfo ready, type: kubernetes, resource: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, namespace: podinfo-02-qa, name: podinfo}}
 *
 * Each check is validated against its type's schema; a value that is not a list of valid checks is a
 * policy problem like a bad window or soak, never "no verification". Workflow-safe: YAML and the
 * schema check are pure JavaScript, durations are read with Temporal's own parser.
 */
import { msToNumber } from '@temporalio/common';
import { type Static, type TSchema, Type } from 'typebox';
import { Value } from 'typebox/value';
import { parse } from 'yaml';
import type { ParsedValue, PolicyProblem } from './environment-annotations.js';
import type { Pipeline, PipelineRef } from './pipeline.js';
import { ANNOTATION_PREFIX } from './pipeline-annotations.js';

const VERIFY_ANNOTATION_PREFIX = `${ANNOTATION_PREFIX}/verify.`;

/** `promotion.baton.dev/verify.<environment>`. */
export function verifyAnnotation(environment: string): string {
  return `${VERIFY_ANNOTATION_PREFIX}${environment}`;
}

export const CHECK_TYPES = ['http', 'promql', 'kubernetes'] as const;
export type CheckType = (typeof CHECK_TYPES)[number];

/** More checks than this on one environment is a mistake (and a big state). */
export const MAX_CHECKS = 20;
/** Samples a check keeps (and takes): each is kept in the release's state. */
export const MAX_SAMPLES = 60;
const MIN_INTERVAL_MS = 1_000;
const MAX_CHECK_MS = 60 * 60_000;
export const DEFAULT_HTTP_INTERVAL_MS = 10_000;
export const DEFAULT_PROMQL_INTERVAL_MS = 30_000;
export const DEFAULT_KUBERNETES_INTERVAL_MS = 5_000;
export const DEFAULT_KUBERNETES_TIMEOUT_MS = 5 * 60_000;

const Name = Type.String({ minLength: 1, maxLength: 100 });
const Duration = Type.String({ minLength: 1, maxLength: 40 });
const Url = Type.String({ minLength: 1, maxLength: 2_000 });
/** A Secret in the Pipeline's namespace whose key (default `token`) is sent as `Authorization: Bearer`. */
const SecretRef = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 253 }), key: Type.Optional(Type.String({ minLength: 1 })) },
  { additionalProperties: false },
);

const HttpCheckSchema = Type.Object(
  {
    name: Name,
    type: Type.Literal('http'),
    url: Url,
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
    jsonPath: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    equals: Type.Optional(Type.Unknown()),
    samples: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SAMPLES })),
    interval: Type.Optional(Duration),
    secretRef: Type.Optional(SecretRef),
  },
  { additionalProperties: false },
);

const PromqlCheckSchema = Type.Object(
  {
    name: Name,
    type: Type.Literal('promql'),
    prometheus: Url,
    query: Type.String({ minLength: 1, maxLength: 4_000 }),
    threshold: Type.String({ minLength: 1, maxLength: 60 }),
    for: Type.Optional(Duration),
    interval: Type.Optional(Duration),
    secretRef: Type.Optional(SecretRef),
  },
  { additionalProperties: false },
);

const KubernetesCheckSchema = Type.Object(
  {
    name: Name,
    type: Type.Literal('kubernetes'),
    resource: Type.Object(
      {
        apiVersion: Type.String({ minLength: 1, maxLength: 253 }),
        kind: Type.String({ minLength: 1, maxLength: 63 }),
        namespace: Type.String({ minLength: 1, maxLength: 63 }),
        name: Type.String({ minLength: 1, maxLength: 253 }),
      },
      { additionalProperties: false },
    ),
    condition: Type.Optional(
      Type.Object(
        {
          type: Type.String({ minLength: 1, maxLength: 316 }),
          status: Type.Optional(Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')])),
        },
        { additionalProperties: false },
      ),
    ),
    reportsVersion: Type.Optional(Type.Boolean()),
    timeout: Type.Optional(Duration),
    interval: Type.Optional(Duration),
  },
  { additionalProperties: false },
);

const SCHEMAS: Record<CheckType, TSchema> = { http: HttpCheckSchema, promql: PromqlCheckSchema, kubernetes: KubernetesCheckSchema };

export type ThresholdOperator = '<' | '<=' | '>' | '>=' | '==' | '!=';
export interface Threshold {
  operator: ThresholdOperator;
  value: number;
  /** As written: `value < 0.01`. */
  text: string;
}

interface CheckBase {
  name: string;
}

export interface HttpCheck extends CheckBase {
  type: 'http';
  url: string;
  status: number;
  /** `$.status`, `items[0].ready`: where in the JSON answer `equals` is looked for. */
  jsonPath?: string;
  equals?: unknown;
  samples: number;
  intervalMs: number;
  secretRef?: { name: string; key: string };
}

export interface PromqlCheck extends CheckBase {
  type: 'promql';
  /** The Prometheus HTTP API's base URL; the query goes to `<prometheus>/api/v1/query`. */
  prometheus: string;
  query: string;
  threshold: Threshold;
  samples: number;
  intervalMs: number;
  secretRef?: { name: string; key: string };
}

export interface KubernetesCheck extends CheckBase {
  type: 'kubernetes';
  resource: { apiVersion: string; kind: string; namespace: string; name: string };
  /** The condition that must hold (default Ready=True). */
  condition: { type: string; status: 'True' | 'False' | 'Unknown' };
  /** The object's status must name the release's version (Flux's lastAppliedRevision, lastAttemptedRevision, history). */
  reportsVersion: boolean;
  timeoutMs: number;
  intervalMs: number;
}

export type VerificationCheck = HttpCheck | PromqlCheck | KubernetesCheck;

/** What the `verifyCheck` activity is asked. */
export interface CheckRequest {
  pipeline: PipelineRef;
  environment: string;
  version: string;
  check: VerificationCheck;
  /** The namespaces a kubernetes check may read: the Pipeline's and its targets'. */
  namespaces: string[];
}

/** One observation of a check: what was seen, and whether it passed. Never a response body or a secret. */
export interface VerificationSample {
  at: string;
  passed: boolean;
  /** `200`, `0.004 < 0.01`, `Ready=True, lastAttemptedRevision 6.7.1`: clipped. */
  observed: string;
}

/** A check that ran to its verdict (a check that could not run is a failure of the activity instead). */
export interface CheckResult {
  passed: boolean;
  samples: VerificationSample[];
  /** Why it failed, in a sentence. */
  why?: string;
  /** Kubernetes checks: how many times the object was read (only the last reading is a sample). */
  attempts?: number;
}

const OPERATORS: readonly ThresholdOperator[] = ['<=', '>=', '==', '!=', '<', '>'];
const THRESHOLD = /^\s*(?:value\s*)?(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*$/i;

export function parseThreshold(text: string): ParsedValue<Threshold> {
  const match = THRESHOLD.exec(text);
  const operator = OPERATORS.find((o) => o === match?.[1]);
  if (match === null || operator === undefined) {
    return { ok: false, problem: `threshold "${text}" is not a comparison with a number (e.g. "value < 0.01", "> 0.99")` };
  }
  return { ok: true, value: { operator, value: Number(match[2]), text: text.trim() } };
}

/** Whether `value` meets the threshold; NaN (no data, a division by zero) never does. */
export function meetsThreshold(value: number, { operator, value: limit }: Threshold): boolean {
  if (Number.isNaN(value)) return false;
  switch (operator) {
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>':
      return value > limit;
    case '>=':
      return value >= limit;
    case '==':
      return value === limit;
    case '!=':
      return value !== limit;
  }
}

function duration(text: string | undefined, fallbackMs: number, what: string, min = MIN_INTERVAL_MS): ParsedValue<number> {
  if (text === undefined) return { ok: true, value: fallbackMs };
  let ms: number;
  try {
    ms = msToNumber(text.trim() as Parameters<typeof msToNumber>[0]);
  } catch {
    return { ok: false, problem: `${what} "${text}" is not a duration (e.g. 10s, 1m, 5m)` };
  }
  if (!Number.isFinite(ms) || ms < min) return { ok: false, problem: `${what} "${text}" is shorter than ${min / 1000}s` };
  if (ms > MAX_CHECK_MS) return { ok: false, problem: `${what} "${text}" is longer than an hour` };
  return { ok: true, value: ms };
}

/** http(s), with a host and without credentials: an annotation is no place for a password, and would put it in histories. */
function urlProblem(url: string, what: string): string | undefined {
  if (!URL.canParse(url)) return `${what} is not a URL`;
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `${what} must be http or https, not ${parsed.protocol}`;
  if (parsed.username !== '' || parsed.password !== '') return `${what} must not carry credentials: use secretRef`;
  return undefined;
}

function jsonPathProblem(path: string): string | undefined {
  return jsonPathSteps(path) === undefined ? `jsonPath "${path}" is not a path like $.status or items[0].ready` : undefined;
}

/** `$.items[0].ready` → ['items', 0, 'ready']; undefined when it is not such a path. */
export function jsonPathSteps(path: string): (string | number)[] | undefined {
  if (path.includes('..')) return undefined;
  const rest = path.trim().replace(/^\$\.?/, '');
  if (rest === '') return [];
  const steps: (string | number)[] = [];
  const STEP = /^(?:\.?([A-Za-z_][\w-]*)|\[(\d+)\]|\[['"]([^'"]+)['"]\])/;
  let remaining = rest;
  while (remaining.length > 0) {
    const match = STEP.exec(remaining);
    if (match === null) return undefined;
    steps.push(match[1] ?? (match[2] !== undefined ? Number(match[2]) : match[3]!));
    remaining = remaining.slice(match[0].length);
  }
  return steps;
}

function secretRef(ref: { name: string; key?: string } | undefined): { secretRef?: { name: string; key: string } } {
  return ref === undefined ? {} : { secretRef: { name: ref.name, key: ref.key ?? 'token' } };
}

/** One check, known to match its type's schema, with its defaults filled in and its durations read. */
function normalise(type: CheckType, raw: Record<string, unknown>): ParsedValue<VerificationCheck> {
  const fail = (problem: string): ParsedValue<VerificationCheck> => ({ ok: false, problem });
  switch (type) {
    case 'http': {
      const check = raw as Static<typeof HttpCheckSchema>;
      const bad = urlProblem(check.url, 'url') ?? (check.jsonPath === undefined ? undefined : jsonPathProblem(check.jsonPath));
      if (bad !== undefined) return fail(bad);
      if ((check.jsonPath === undefined) !== (check.equals === undefined))
        return fail('jsonPath and equals go together: set both or neither');
      const interval = duration(check.interval, DEFAULT_HTTP_INTERVAL_MS, 'interval');
      if (!interval.ok) return interval;
      return {
        ok: true,
        value: {
          name: check.name,
          type,
          url: check.url,
          status: check.status ?? 200,
          ...(check.jsonPath === undefined ? {} : { jsonPath: check.jsonPath, equals: check.equals }),
          samples: check.samples ?? 1,
          intervalMs: interval.value,
          ...secretRef(check.secretRef),
        },
      };
    }
    case 'promql': {
      const check = raw as Static<typeof PromqlCheckSchema>;
      const bad = urlProblem(check.prometheus, 'prometheus');
      if (bad !== undefined) return fail(bad);
      const threshold = parseThreshold(check.threshold);
      if (!threshold.ok) return threshold;
      const interval = duration(check.interval, DEFAULT_PROMQL_INTERVAL_MS, 'interval');
      if (!interval.ok) return interval;
      const over = duration(check.for, 0, 'for', 0);
      if (!over.ok) return over;
      const samples = Math.floor(over.value / interval.value) + 1;
      if (samples > MAX_SAMPLES)
        return fail(`for ${check.for} every ${check.interval ?? '30s'} is ${samples} samples; at most ${MAX_SAMPLES}`);
      return {
        ok: true,
        value: {
          name: check.name,
          type,
          prometheus: check.prometheus,
          query: check.query,
          threshold: threshold.value,
          samples,
          intervalMs: interval.value,
          ...secretRef(check.secretRef),
        },
      };
    }
    case 'kubernetes': {
      const check = raw as Static<typeof KubernetesCheckSchema>;
      const timeout = duration(check.timeout, DEFAULT_KUBERNETES_TIMEOUT_MS, 'timeout');
      if (!timeout.ok) return timeout;
      const interval = duration(check.interval, DEFAULT_KUBERNETES_INTERVAL_MS, 'interval');
      if (!interval.ok) return interval;
      return {
        ok: true,
        value: {
          name: check.name,
          type,
          resource: { ...check.resource },
          condition: { type: check.condition?.type ?? 'Ready', status: check.condition?.status ?? 'True' },
          reportsVersion: check.reportsVersion ?? false,
          timeoutMs: timeout.value,
          intervalMs: interval.value,
        },
      };
    }
  }
}

function schemaProblem(raw: unknown, schema: TSchema): string | undefined {
  if (Value.Check(schema, raw)) return undefined;
  const described = Value.Errors(schema, raw)
    // `additionalProperties` says which property; the `schema is false` entry beside it says nothing more.
    .filter((e) => e.keyword !== 'boolean')
    .map((e) => {
      if (e.keyword === 'additionalProperties') {
        const names = (e.params as { additionalProperties?: string[] }).additionalProperties ?? [];
        return `unknown field${names.length === 1 ? '' : 's'} ${names.join(', ')}`;
      }
      return `${e.instancePath === '' ? '' : `${e.instancePath.slice(1).replaceAll('/', '.')} `}${e.message}`;
    });
  return [...new Set(described)].slice(0, 3).join('; ');
}

/** Parses an annotation value: a non-empty list of checks, each valid for its type, with distinct names. */
export function parseVerification(text: string): ParsedValue<VerificationCheck[]> {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    return { ok: false, problem: `not YAML or JSON: ${(error as Error).message.split('\n')[0]}` };
  }
  if (!Array.isArray(raw) || raw.length === 0)
    return { ok: false, problem: 'not a list of checks (e.g. "- {name: healthz, type: http, url: …}")' };
  if (raw.length > MAX_CHECKS) return { ok: false, problem: `${raw.length} checks; at most ${MAX_CHECKS}` };
  const checks: VerificationCheck[] = [];
  for (const [index, item] of raw.entries()) {
    const label = `check ${index + 1}${isRecord(item) && typeof item.name === 'string' ? ` (${item.name})` : ''}`;
    if (!isRecord(item)) return { ok: false, problem: `${label} is not a mapping` };
    const type = CHECK_TYPES.find((t) => t === item.type);
    if (type === undefined) {
      const given = typeof item.type === 'string' ? `unknown check type "${item.type}"` : 'no check type';
      return { ok: false, problem: `${label}: ${given} (${CHECK_TYPES.join(', ')})` };
    }
    const problem = schemaProblem(item, SCHEMAS[type]);
    if (problem !== undefined) return { ok: false, problem: `${label}: ${problem}` };
    const check = normalise(type, item);
    if (!check.ok) return { ok: false, problem: `${label}: ${check.problem}` };
    if (checks.some((c) => c.name === check.value.name))
      return { ok: false, problem: `${label}: two checks are named "${check.value.name}"` };
    checks.push(check.value);
  }
  return { ok: true, value: checks };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A list of checks is usually a YAML block: problems quote it on one line, and not all of it. */
function onOneLine(value: string): string {
  const line = value.trim().replace(/\s*\n\s*/g, ' ');
  return line.length > QUOTED_VALUE_CHARS ? `${line.slice(0, QUOTED_VALUE_CHARS - 1)}…` : line;
}

const QUOTED_VALUE_CHARS = 200;

/**
 * Every verify annotation of a Pipeline, parsed, and every problem with them. Any environment may be
 * verified, the last one too (the release completes once it passed there).
 */
export function readVerifications(
  annotations: Readonly<Record<string, string>> | undefined,
  environments: readonly string[],
): { values: Map<string, VerificationCheck[]>; problems: PolicyProblem[] } {
  const values = new Map<string, VerificationCheck[]>();
  const problems: PolicyProblem[] = [];
  for (const [annotation, written] of Object.entries(annotations ?? {})) {
    if (!annotation.startsWith(VERIFY_ANNOTATION_PREFIX)) continue;
    const value = onOneLine(written);
    const environment = annotation.slice(VERIFY_ANNOTATION_PREFIX.length);
    if (!environments.includes(environment)) {
      problems.push({ annotation, value, problem: `the Pipeline has no environment "${environment}" (it has ${environments.join(', ')})` });
      continue;
    }
    const parsed = parseVerification(written);
    if (parsed.ok) values.set(environment, parsed.value);
    else problems.push({ annotation, value, problem: parsed.problem });
  }
  return { values, problems };
}

export function pipelineVerifications(pipeline: Pipeline): ReturnType<typeof readVerifications> {
  return readVerifications(
    pipeline.annotations,
    pipeline.spec.environments.map((e) => e.name),
  );
}

/** Whether the Pipeline has any verify annotation at all (valid or not). */
export function hasVerifyAnnotations(pipeline: Pipeline): boolean {
  return Object.keys(pipeline.annotations ?? {}).some((key) => key.startsWith(VERIFY_ANNOTATION_PREFIX));
}

/** How long one HTTP request of a check may take. */
export const CHECK_REQUEST_TIMEOUT_MS = 10_000;

/** Bound on one attempt of the check's activity: every sample and wait, with room for each request. */
export function checkTimeoutMs(check: VerificationCheck): number {
  const margin = 60_000;
  if (check.type === 'kubernetes') return check.timeoutMs + CHECK_REQUEST_TIMEOUT_MS + margin;
  return (check.samples - 1) * check.intervalMs + check.samples * CHECK_REQUEST_TIMEOUT_MS + margin;
}
