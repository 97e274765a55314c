/**
 * The Pipeline `Ready` condition as Weave GitOps computed it: for every target with a `clusterRef`,
 * the GitopsCluster it names (namespace: the reference's, else the Pipeline's) must exist, else
 * `TargetClusterNotFound`, and be Ready, else `TargetClusterNotReady`; otherwise
 * `ReconciliationSucceeded`. Before any of that, Baton's own `InvalidPromotionPolicy`: a promotion
 * policy annotation (a change window, a soak time) that cannot be read. Pure: the controller supplies the
 * clusters it sees.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { describePolicyProblem, readPolicyProblems } from '../model/promotion-policies.js';
import { type PipelineStatusObject, type StatusCondition, waitingApprovalsSummary } from './pipeline-status.js';

export const GITOPS_CLUSTER_RESOURCE = { group: 'gitops.weave.works', version: 'v1alpha1', plural: 'gitopsclusters' } as const;

export const ReadyReason = {
  /** A promotion policy annotation that cannot be read: releases of the Pipeline fail, the gateway refuses its events. */
  invalidPromotionPolicy: 'InvalidPromotionPolicy',
  targetClusterNotFound: 'TargetClusterNotFound',
  targetClusterNotReady: 'TargetClusterNotReady',
  reconciliationSucceeded: 'ReconciliationSucceeded',
} as const;

export type PipelineObject = KubernetesObject &
  PipelineStatusObject & {
    spec?: { environments?: { name?: unknown; targets?: { clusterRef?: { name?: unknown; namespace?: unknown } }[] }[] };
  };
export type ClusterObject = KubernetesObject & { status?: { conditions?: { type?: string; status?: string }[] } };

export const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

export interface ClusterKey {
  namespace: string;
  name: string;
}

/** The GitopsClusters a Pipeline's targets name, each once, in spec order. */
export function referencedClusters(pipeline: PipelineObject): ClusterKey[] {
  const seen = new Map<string, ClusterKey>();
  for (const environment of pipeline.spec?.environments ?? []) {
    for (const target of environment.targets ?? []) {
      const ref = target.clusterRef;
      if (ref === undefined || typeof ref.name !== 'string') continue;
      const namespace = typeof ref.namespace === 'string' && ref.namespace !== '' ? ref.namespace : (pipeline.metadata?.namespace ?? '');
      seen.set(keyOf(namespace, ref.name), { namespace, name: ref.name });
    }
  }
  return [...seen.values()];
}

function clusterReady(cluster: ClusterObject): boolean {
  return cluster.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The Ready condition's status, reason and message, from the clusters the lookup finds. */
export function readyCondition(
  pipeline: PipelineObject,
  lookup: (cluster: ClusterKey) => ClusterObject | undefined,
): Pick<StatusCondition, 'status' | 'reason' | 'message'> {
  const problems = readPolicyProblems(pipeline.metadata?.annotations, (environmentNames(pipeline) ?? '').split(','));
  if (problems.length > 0) {
    return {
      status: 'False',
      reason: ReadyReason.invalidPromotionPolicy,
      message: `Invalid promotion policy: ${problems.map(describePolicyProblem).join('; ')}`,
    };
  }
  for (const ref of referencedClusters(pipeline)) {
    const cluster = lookup(ref);
    if (cluster === undefined) {
      return {
        status: 'False',
        reason: ReadyReason.targetClusterNotFound,
        message: `GitopsCluster ${ref.namespace}/${ref.name} not found`,
      };
    }
    if (!clusterReady(cluster)) {
      return {
        status: 'False',
        reason: ReadyReason.targetClusterNotReady,
        message: `GitopsCluster ${ref.namespace}/${ref.name} is not ready`,
      };
    }
  }
  return { status: 'True', reason: ReadyReason.reconciliationSucceeded, message: 'All target clusters are ready' };
}

function environmentNames(pipeline: PipelineObject): string | undefined {
  const names = (pipeline.spec?.environments ?? []).map((e) => e.name).filter((n): n is string => typeof n === 'string');
  return names.length === 0 ? undefined : names.join(',');
}

/** The status patch that brings `pipeline` up to date, or undefined when it already is. */
export function statusPatch(
  pipeline: PipelineObject,
  lookup: (cluster: ClusterKey) => ClusterObject | undefined,
  now: Date,
): object | undefined {
  const generation = pipeline.metadata?.generation;
  const status = pipeline.status ?? {};
  const conditions = status.conditions ?? [];
  const previous = conditions.find((c) => c.type === 'Ready');
  const ready = readyCondition(pipeline, lookup);
  const patch: Record<string, unknown> = {};

  const conditionChanged =
    previous === undefined ||
    previous.status !== ready.status ||
    previous.reason !== ready.reason ||
    previous.message !== ready.message ||
    (generation !== undefined && previous.observedGeneration !== generation);
  if (conditionChanged) {
    const condition: StatusCondition = {
      type: 'Ready',
      ...ready,
      lastTransitionTime: previous !== undefined && previous.status === ready.status ? previous.lastTransitionTime : now.toISOString(),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    // A merge patch replaces the whole list: every other condition is kept as it is.
    patch.conditions = [...conditions.filter((c) => c.type !== 'Ready'), condition];
  }
  if (generation !== undefined && status.observedGeneration !== generation) patch.observedGeneration = generation;
  const names = environmentNames(pipeline) ?? null;
  if ((status.environmentNames ?? null) !== names) patch.environmentNames = names;
  const waiting = waitingApprovalsSummary(pipeline) ?? null;
  if ((status.waitingApprovals ?? null) !== waiting) patch.waitingApprovals = waiting;

  if (Object.keys(patch).length === 0) return undefined;
  return { metadata: { resourceVersion: pipeline.metadata?.resourceVersion }, status: patch };
}
