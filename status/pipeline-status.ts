/**
 * What Baton reads and writes of a Pipeline's status: Weave's `status.environments[<env>]` entries,
 * the Ready condition and the summaries `kubectl get pipelines` prints.
 */
import { type ConfigurationOptions, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

/** What Baton reads of a Pipeline's status (other fields are left alone). */
export interface PipelineStatusObject {
  metadata?: { resourceVersion?: string; generation?: number };
  spec?: { environments?: { name?: unknown }[] };
  status?: {
    observedGeneration?: number;
    conditions?: StatusCondition[];
    environments?: Record<string, { waitingApproval?: { revision?: string } | null } | null | undefined>;
    environmentNames?: string;
    waitingApprovals?: string;
  };
}

export interface StatusCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** JSON merge patches: `null` removes a field. */
export const mergePatch = (): ConfigurationOptions => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * `dev=1.2.0,prod=1.1.0`: every environment with a revision waiting, in the Pipeline's environment
 * order (then by name, for entries of environments no longer in the spec). Undefined when none waits.
 */
export function waitingApprovalsSummary(object: PipelineStatusObject): string | undefined {
  const order = (object.spec?.environments ?? []).map((e) => (typeof e.name === 'string' ? e.name : ''));
  const rank = (env: string): number => {
    const index = order.indexOf(env);
    return index === -1 ? order.length : index;
  };
  const waiting = Object.entries(object.status?.environments ?? {})
    .map(([env, entry]) => [env, entry?.waitingApproval?.revision] as const)
    .filter((pair): pair is readonly [string, string] => typeof pair[1] === 'string' && pair[1] !== '')
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  return waiting.length === 0 ? undefined : waiting.map(([env, revision]) => `${env}=${revision}`).join(',');
}
