/**
 * The Weave GitOps `Pipeline` resource (pipelines.weave.works/v1alpha1) as Baton reads it, and the
 * pure rules that interpret it. Workflow-safe: no I/O, no Node built-ins.
 */

export const PIPELINE_GROUP = 'pipelines.weave.works';
export const PIPELINE_API_VERSION = `${PIPELINE_GROUP}/v1alpha1`;
export const PIPELINE_KIND = 'Pipeline';

export interface PipelineRef {
  namespace: string;
  name: string;
}

export interface LocalObjectReference {
  name: string;
}

export interface AppReference {
  apiVersion: string;
  kind: string;
  name: string;
}

export interface ClusterReference {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface Target {
  namespace: string;
  clusterRef?: ClusterReference;
}

export const GitProviderType = {
  github: 'github',
  gitlab: 'gitlab',
  bitbucketServer: 'bitbucket-server',
} as const;
export type GitProviderType = (typeof GitProviderType)[keyof typeof GitProviderType];

export interface PullRequestPromotion {
  type: GitProviderType;
  url: string;
  baseBranch?: string;
  secretRef: LocalObjectReference;
}

/** The fields are mutually exclusive, except `secretRef` (the webhook's HMAC key). */
export interface Strategy {
  'pull-request'?: PullRequestPromotion;
  notification?: Record<string, never>;
  secretRef?: LocalObjectReference;
}

export interface Promotion {
  manual?: boolean;
  strategy: Strategy;
}

export interface Environment {
  name: string;
  targets: Target[];
  promotion?: Promotion;
}

export interface PipelineSpec {
  appRef: AppReference;
  environments: Environment[];
  promotion?: Promotion;
}

/** A Pipeline as the sources serve it: identity, the bits of metadata Baton uses, and the spec. */
export interface Pipeline extends PipelineRef {
  uid?: string;
  generation?: number;
  annotations?: Record<string, string>;
  spec: PipelineSpec;
}

export function pipelineKey(ref: PipelineRef): string {
  return `${ref.namespace}/${ref.name}`;
}

export function environmentIndex(spec: PipelineSpec, environment: string): number {
  return spec.environments.findIndex((env) => env.name === environment);
}

/**
 * The promotion block that governs promoting INTO `environment`: the environment's own block if it
 * has one, else the pipeline-level block. Weave never merged the two, and neither does Baton.
 */
export function effectivePromotion(spec: PipelineSpec, environment: string): Promotion | undefined {
  const env = spec.environments.find((e) => e.name === environment);
  return env?.promotion ?? spec.promotion;
}

export const StrategyName = {
  pullRequest: 'pull-request',
  notification: 'notification',
} as const;
export type StrategyName = (typeof StrategyName)[keyof typeof StrategyName];

/** Which strategy a promotion block selects; undefined when it selects none. */
export function strategyName(promotion: Promotion): StrategyName | undefined {
  if (promotion.strategy['pull-request']) return StrategyName.pullRequest;
  if (promotion.strategy.notification) return StrategyName.notification;
  return undefined;
}

/** The API group of an apiVersion (`helm.toolkit.fluxcd.io/v2` → `helm.toolkit.fluxcd.io`, `v1` → ``). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export interface InvolvedObject {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace: string;
}

/**
 * Whether an event's involved object is the pipeline's app in one of `environment`'s targets.
 * Matches on API group, kind and name, not version: Flux reports `helm.toolkit.fluxcd.io/v2` while
 * existing Pipelines say `v2beta1`. An event without an apiVersion matches on kind and name.
 */
export function involvedObjectMatches(spec: PipelineSpec, environment: string, object: InvolvedObject): boolean {
  const { appRef } = spec;
  if (object.kind !== appRef.kind || object.name !== appRef.name) return false;
  if (object.apiVersion !== undefined && apiGroup(object.apiVersion) !== apiGroup(appRef.apiVersion)) {
    return false;
  }
  const env = spec.environments.find((e) => e.name === environment);
  return env?.targets.some((target) => target.namespace === object.namespace) ?? false;
}
