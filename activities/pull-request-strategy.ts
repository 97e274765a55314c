/**
 * The pull-request strategy in idempotent activities: `pushPromotionBranch` (the git step),
 * `openPullRequest` (the provider step, on the rate-limited provider task queue), then, while the
 * release follows the pull request, `pullRequestStatus` (provider queue too) and, once it was closed
 * without merging, `deletePromotionBranch` (git). Credentials are read here from the block's Secret
 * and never leave the activity: inputs, results and failures carry names.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type CommitAuthor, deleteBranch, promoteInRepository, promotionBranchName, promotionCommitMessage } from './git/repository.js';
import { markerReference } from './git/markers.js';
import type { HostAllowlist } from './http/host-allowlist.js';
import { createPullRequestProvider, type PullRequestProvider, type PullRequestProviderOptions } from './providers/index.js';
import { pullRequestBody, pullRequestTitle } from './providers/pull-request-body.js';
import { FailureType } from '../model/failures.js';
import { workflowUrl } from '../model/temporal-ui.js';
import { effectivePromotion, type Pipeline, pipelineKey, type PullRequestPromotion } from '../model/pipeline.js';
import type { PipelineSource, SecretData } from '../pipelines/source.js';
import type {
  BranchDeletionRequest,
  BranchDeletionResult,
  PromotionBranchResult,
  PromotionRequest,
  PromotionResult,
  PullRequestStatus,
  PullRequestStatusRequest,
} from '../model/promotion.js';

export interface PullRequestDependencies {
  pipelines: PipelineSource;
  /** Allows plain `http://` git and API URLs (loopback tests only): credentials would travel in clear. */
  allowInsecureHttp: boolean;
  /** The hosts a repository URL may name (`BATON_GIT_HOSTS`), for git and the provider API; default any. */
  allowedHosts?: HostAllowlist;
  /** Extra provider options per provider type, e.g. the API root of a test fake. */
  providerOptions?: (type: string) => PullRequestProviderOptions;
  /** The Temporal UI the PR body links to, without a trailing slash. */
  temporalUiUrl: string;
  /** The Temporal namespace of the workflows, for the UI link. */
  namespace: string;
  commitAuthor?: CommitAuthor;
}

export type { PromotionBranchResult } from '../model/promotion.js';

interface Resolved {
  pipeline: Pipeline;
  block: PullRequestPromotion & { baseBranch: string };
  secretName: string;
  secret: SecretData;
}

export function createPullRequestActivities(deps: PullRequestDependencies) {
  // One provider per type for the worker's life: each keeps its clients (connections) per repository.
  const providers = new Map<string, PullRequestProvider>();
  const providerFor = (type: string): PullRequestProvider => {
    let provider = providers.get(type);
    if (provider === undefined) {
      provider = createPullRequestProvider(type, {
        allowInsecureHttp: deps.allowInsecureHttp,
        ...deps.providerOptions?.(type),
        // The operator's allowlist, whatever the per-type options say.
        ...(deps.allowedHosts === undefined ? {} : { allowedHosts: deps.allowedHosts }),
      });
      providers.set(type, provider);
    }
    return provider;
  };

  const resolve = async (request: Pick<PromotionRequest, 'pipeline' | 'targetEnvironment'>): Promise<Resolved> => {
    const key = pipelineKey(request.pipeline);
    const pipeline = deps.pipelines.getPipeline(request.pipeline);
    if (pipeline === undefined) {
      if (!deps.pipelines.isSynced()) throw new Error('the Pipeline source is not synced yet');
      throw ApplicationFailure.nonRetryable(
        `Pipeline ${key} does not exist (deleted, or invalid: see the worker log)`,
        FailureType.pipelineNotFound,
      );
    }
    const block = effectivePromotion(pipeline.spec, request.targetEnvironment)?.strategy['pull-request'];
    if (block === undefined) {
      throw ApplicationFailure.nonRetryable(
        `Pipeline ${key} no longer promotes into ${request.targetEnvironment} by pull request`,
        FailureType.invalidPipeline,
      );
    }
    const { baseBranch } = block;
    if (!baseBranch) {
      throw ApplicationFailure.nonRetryable(
        `the pull-request block for ${request.targetEnvironment} in Pipeline ${key} has no baseBranch: set the branch the PR targets`,
        FailureType.invalidPipeline,
      );
    }
    const secretName = block.secretRef?.name;
    if (!secretName) {
      throw ApplicationFailure.nonRetryable(
        `the pull-request block for ${request.targetEnvironment} in Pipeline ${key} has no secretRef.name`,
        FailureType.invalidPipeline,
      );
    }
    const secret = await deps.pipelines.getSecret(pipeline.namespace, secretName);
    if (secret === undefined) {
      throw ApplicationFailure.nonRetryable(
        `Secret ${pipeline.namespace}/${secretName} (secretRef of Pipeline ${key}) does not exist`,
        FailureType.invalidPipeline,
      );
    }
    return { pipeline, block: { ...block, baseBranch }, secretName, secret };
  };

  const secretKey = (resolved: Resolved, key: string): string => {
    const value = resolved.secret[key];
    if (value === undefined || value.length === 0) {
      throw ApplicationFailure.nonRetryable(
        `Secret ${resolved.pipeline.namespace}/${resolved.secretName} (secretRef of Pipeline ${pipelineKey(resolved.pipeline)}) ` +
          `has no '${key}' key: the pull-request strategy needs username, password and token (caFile optional)`,
        FailureType.invalidPipeline,
      );
    }
    return value.toString('utf8');
  };

  const optionalCa = (resolved: Resolved): Buffer | undefined => {
    const ca = resolved.secret.caFile;
    return ca !== undefined && ca.length > 0 ? ca : undefined;
  };

  const pushPromotionBranch = async (request: PromotionRequest): Promise<PromotionBranchResult> => {
    const resolved = await resolve(request);
    const { block } = resolved;
    const credentials = { username: secretKey(resolved, 'username'), password: secretKey(resolved, 'password') };
    const caFile = optionalCa(resolved);
    const context = Context.current();
    const result = await promoteInRepository({
      url: block.url,
      baseBranch: block.baseBranch,
      branch: promotionBranchName(request.pipeline, request.targetEnvironment),
      credentials,
      ...(caFile === undefined ? {} : { caFile }),
      allowInsecureHttp: deps.allowInsecureHttp,
      ...(deps.allowedHosts === undefined ? {} : { allowedHosts: deps.allowedHosts }),
      reference: markerReference(request.pipeline, request.targetEnvironment),
      version: request.version,
      ...(deps.commitAuthor === undefined ? {} : { author: deps.commitAuthor }),
      message: promotionCommitMessage({
        pipeline: request.pipeline,
        environment: request.targetEnvironment,
        version: request.version,
        workflowId: request.workflowId,
      }),
      signal: context.cancellationSignal,
      heartbeat: (progress) => context.heartbeat(progress),
    });
    if (result.status === 'already-at-version') {
      return { status: 'already-at-version', outcome: `already at ${request.version} on ${block.baseBranch}` };
    }
    return { status: 'pushed', branch: result.branch, commit: result.commit, baseBranch: block.baseBranch };
  };

  const openPullRequest = async (request: PromotionRequest): Promise<PromotionResult> => {
    const resolved = await resolve(request);
    const { block } = resolved;
    const token = secretKey(resolved, 'token');
    const ca = optionalCa(resolved);
    const provider = providerFor(block.type);
    const content = {
      pipeline: request.pipeline,
      sourceEnvironment: request.sourceEnvironment,
      targetEnvironment: request.targetEnvironment,
      version: request.version,
      workflowId: request.workflowId,
      workflowUrl: workflowUrl({ uiUrl: deps.temporalUiUrl, namespace: deps.namespace }, request.workflowId),
      ...(request.event === undefined ? {} : { event: request.event }),
      ...(request.rollback === undefined ? {} : { rollback: request.rollback }),
      ...(request.approval === undefined
        ? {}
        : { approval: { approver: request.approval.approver, comment: request.approval.comment, at: request.approval.at } }),
    };
    const pr = await provider.findOrCreate({
      repositoryUrl: block.url,
      baseBranch: block.baseBranch,
      headBranch: promotionBranchName(request.pipeline, request.targetEnvironment),
      title: pullRequestTitle(content),
      body: pullRequestBody(content),
      token,
      ...(ca === undefined ? {} : { ca }),
    });
    return {
      outcome: `${pr.created ? 'opened' : 'updated'} PR #${pr.number} ${pr.url}`,
      pullRequest: { url: pr.url, number: pr.number },
    };
  };

  const pullRequestStatus = async (request: PullRequestStatusRequest): Promise<PullRequestStatus> => {
    const resolved = await resolve(request);
    const ca = optionalCa(resolved);
    return providerFor(resolved.block.type).status({
      repositoryUrl: resolved.block.url,
      number: request.number,
      token: secretKey(resolved, 'token'),
      ...(ca === undefined ? {} : { ca }),
    });
  };

  const deletePromotionBranch = async (request: BranchDeletionRequest): Promise<BranchDeletionResult> => {
    const resolved = await resolve(request);
    const caFile = optionalCa(resolved);
    const context = Context.current();
    const { status } = await deleteBranch({
      url: resolved.block.url,
      branch: request.branch,
      commit: request.commit,
      credentials: { username: secretKey(resolved, 'username'), password: secretKey(resolved, 'password') },
      ...(caFile === undefined ? {} : { caFile }),
      allowInsecureHttp: deps.allowInsecureHttp,
      ...(deps.allowedHosts === undefined ? {} : { allowedHosts: deps.allowedHosts }),
      signal: context.cancellationSignal,
      // Scheduled like the git step, whose heartbeat timeout applies.
      heartbeat: (progress) => context.heartbeat(progress),
    });
    return { status, branch: request.branch };
  };

  return { pushPromotionBranch, openPullRequest, pullRequestStatus, deletePromotionBranch };
}
