/**
 * The `kubernetes` verification check: a resource on the management cluster (a HelmRelease, a
 * Kustomization, a Deployment…) read through its API every `interval` until its condition holds —
 * and, with `reportsVersion`, its status names the release's version — or the timeout passes. Only
 * the Pipeline's namespace and its targets' may be read: a Pipeline author cannot point the worker's
 * credentials at other teams' objects.
 */
import { type KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import type { CheckResult, KubernetesCheck, VerificationSample } from '../../model/verification.js';
import { describeKubernetesError, httpStatus } from '../../pipelines/kubernetes-errors.js';
import { checkCannotRun, resumedSamples, sample, waitHeartbeating } from './sampling.js';

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

interface Observed {
  metadata?: { generation?: number };
  status?: {
    conditions?: Condition[];
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    history?: { chartVersion?: string; status?: string }[];
  };
}

/** The version fields Flux objects report, as `field value` pairs. */
function reportedVersions(object: Observed): [string, string][] {
  const status = object.status ?? {};
  const fields: [string, string | undefined][] = [
    ['lastAppliedRevision', status.lastAppliedRevision],
    ['lastAttemptedRevision', status.lastAttemptedRevision],
    ['history[0].chartVersion', status.history?.[0]?.chartVersion],
  ];
  return fields.filter((f): f is [string, string] => typeof f[1] === 'string' && f[1] !== '');
}

/** Whether the object as read passes the check, and what was seen. */
export function judgeObject(check: KubernetesCheck, object: Observed, version: string): VerificationSample {
  const { type, status: wanted } = check.condition;
  const condition = object.status?.conditions?.find((c) => c.type === type);
  const seen: string[] = [];
  let passed = true;
  if (condition === undefined) {
    passed = false;
    seen.push(`no ${type} condition`);
  } else {
    seen.push(`${type}=${condition.status ?? '?'}${condition.reason ? ` (${condition.reason})` : ''}`);
    if (condition.status !== wanted) passed = false;
    const generation = object.metadata?.generation;
    if (generation !== undefined && condition.observedGeneration !== undefined && condition.observedGeneration < generation) {
      passed = false;
      seen.push(`for generation ${condition.observedGeneration} of ${generation}`);
    }
    if (condition.status !== wanted && condition.message) seen.push(condition.message);
  }
  if (check.reportsVersion) {
    const versions = reportedVersions(object);
    const names = versions.some(([, value]) => value === version);
    if (!names) passed = false;
    seen.push(versions.length === 0 ? 'no version in its status' : versions.map(([field, value]) => `${field} ${value}`).join(', '));
  }
  return sample(passed, seen.join('; '));
}

export async function runKubernetesCheck(
  check: KubernetesCheck,
  kubeConfig: KubeConfig | undefined,
  { version, namespaces }: { version: string; namespaces: readonly string[] },
): Promise<CheckResult> {
  const { resource } = check;
  const what = `${resource.kind} ${resource.namespace}/${resource.name}`;
  if (kubeConfig === undefined) {
    throw checkCannotRun(`cannot read ${what}: kubernetes checks need the worker in Kubernetes mode (BATON_PIPELINES=kubernetes)`);
  }
  if (!namespaces.includes(resource.namespace)) {
    throw checkCannotRun(`cannot read ${what}: a check may read only the Pipeline's namespace and its targets' (${namespaces.join(', ')})`);
  }
  const api = KubernetesObjectApi.makeApiClient(kubeConfig);
  const header = { apiVersion: resource.apiVersion, kind: resource.kind, metadata: { namespace: resource.namespace, name: resource.name } };
  const deadline = Date.now() + check.timeoutMs;
  const progress = { samples: resumedSamples().slice(-1) };
  let attempts = 0;
  for (;;) {
    attempts += 1;
    let observed: VerificationSample;
    try {
      const object: KubernetesObject & Observed = await api.read(header);
      observed = judgeObject(check, object, version);
    } catch (error) {
      const status = httpStatus(error);
      const message = error instanceof Error ? error.message : String(error);
      // client-node looks the kind up in the API group's discovery first: a 404 there, or a kind the group lacks.
      const unserved =
        /^Unrecognized API version and kind/.test(message) || (status === 404 && /^Failed to fetch resource metadata/.test(message));
      if (unserved) throw checkCannotRun(`the cluster does not serve ${resource.kind} in ${resource.apiVersion}`);
      // The object may not exist yet (Flux creates it from a commit just promoted): read again.
      if (status === 404) observed = sample(false, `${what} not found`);
      else if (status !== undefined && status < 500 && status !== 429) {
        throw checkCannotRun(`cannot read ${what}: ${describeKubernetesError(error)}`);
      } else throw error;
    }
    progress.samples = [observed];
    if (observed.passed) return { passed: true, samples: progress.samples, attempts };
    const left = deadline - Date.now();
    if (left <= 0) {
      const wanted = `${check.condition.type}=${check.condition.status}${check.reportsVersion ? ` reporting ${version}` : ''}`;
      return { passed: false, samples: progress.samples, attempts, why: `${what} not ${wanted} within the timeout: ${observed.observed}` };
    }
    await waitHeartbeating(Math.min(check.intervalMs, left), progress);
  }
}
