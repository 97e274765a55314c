/**
 * The `verifyCheck` activity: runs one verification check of a release (http, promql, kubernetes)
 * to its verdict. URLs come from Pipeline authors, so each is checked against `BATON_VERIFY_HOSTS`
 * before any connection, fetched with the provider clients' policy (redirects only within the same
 * origin, a timeout per request, a bounded answer), and quoted without credentials or query. A
 * `secretRef`'s token is sent as `Authorization: Bearer` and is never logged, kept or returned.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { FailureType } from '../../model/failures.js';
import {
  CHECK_REQUEST_TIMEOUT_MS,
  type CheckRequest,
  type CheckResult,
  type HttpCheck,
  type PromqlCheck,
} from '../../model/verification.js';
import type { PipelineSource } from '../../pipelines/source.js';
import { createHttpClient } from '../http/client.js';
import { ANY_HOST, assertHostAllowed, type HostAllowlist } from '../http/host-allowlist.js';
import { runHttpCheck } from './http-check.js';
import { runKubernetesCheck } from './kubernetes-check.js';
import { runPromqlCheck } from './promql-check.js';
import { checkCannotRun } from './sampling.js';

/** A check reads a status and a small JSON document, never more. */
const MAX_CHECK_ANSWER_BYTES = 1024 * 1024;

export interface VerificationDependencies {
  /** Where a check's `secretRef` is read (the Pipeline's namespace). */
  pipelines: Pick<PipelineSource, 'getSecret'>;
  /** The hosts http and promql checks may contact (`BATON_VERIFY_HOSTS`); default: any. */
  allowedHosts?: HostAllowlist;
  /** The management cluster, for kubernetes checks; absent (directory mode), they cannot run. */
  kubeConfig?: KubeConfig;
}

async function bearer(
  deps: VerificationDependencies,
  request: CheckRequest,
  check: HttpCheck | PromqlCheck,
): Promise<Record<string, string>> {
  if (check.secretRef === undefined) return {};
  const { name, key } = check.secretRef;
  const namespace = request.pipeline.namespace;
  const secret = await deps.pipelines.getSecret(namespace, name);
  if (secret === undefined) throw checkCannotRun(`the Secret ${namespace}/${name} of its secretRef does not exist`);
  const token = secret[key]?.toString('utf8').trim();
  if (token === undefined || token === '') throw checkCannotRun(`the Secret ${namespace}/${name} of its secretRef has no key ${key}`);
  return { authorization: `Bearer ${token}` };
}

export function createVerificationActivities(deps: VerificationDependencies) {
  const allowedHosts = deps.allowedHosts ?? ANY_HOST;
  return {
    /** Runs one check to its verdict; a check that cannot run fails non-retryably, saying why. */
    async verifyCheck(request: CheckRequest): Promise<CheckResult> {
      const { check } = request;
      if (check.type === 'kubernetes') return runKubernetesCheck(check, deps.kubeConfig, request);
      if (check.type !== 'http' && check.type !== 'promql') {
        throw checkCannotRun(`unknown check type "${(check as { type: string }).type}"`);
      }
      const url = check.type === 'http' ? check.url : check.prometheus;
      assertHostAllowed(url, allowedHosts, check.type === 'http' ? 'the url' : 'the prometheus URL', FailureType.verificationFailed);
      const headers = await bearer(deps, request, check);
      const client = createHttpClient({ timeoutMs: CHECK_REQUEST_TIMEOUT_MS, maxResponseBytes: MAX_CHECK_ANSWER_BYTES });
      try {
        return check.type === 'http'
          ? await runHttpCheck(check, client.fetch, headers)
          : await runPromqlCheck(check, client.fetch, headers);
      } finally {
        await client.close();
      }
    },
  };
}
