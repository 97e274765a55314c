/**
 * The promotion pull request's title and body. Title and metadata block are Weave GitOps', byte for
 * byte (its UI and users' automation find a pipeline's PRs by them); everything from outside (event
 * text, approver, comments, revisions) is escaped for the provider's Markdown.
 */
import type { PipelineRef } from '../../model/pipeline.js';
import type { DecisionRecord, DeploymentEvent, RollbackRequest } from '../../model/release.js';
import { blockQuote, codeSpan as code, inline, linkTarget } from './markdown.js';

export interface PullRequestContent {
  pipeline: PipelineRef;
  sourceEnvironment: string;
  targetEnvironment: string;
  /** The version written into the target environment (without build metadata). */
  version: string;
  workflowId: string;
  /** What Flux reported in the source environment. */
  event?: DeploymentEvent;
  /** The manual approval that let the promotion through, when the environment has a gate. */
  approval?: Pick<DecisionRecord, 'approver' | 'comment'> & { at?: string };
  /** The workflow in the Temporal UI. */
  workflowUrl?: string;
  /** Set when somebody asked for this version in the target: it puts an older version back. */
  rollback?: RollbackRequest;
}

export function pullRequestTitle(c: Pick<PullRequestContent, 'pipeline' | 'targetEnvironment' | 'version'>): string {
  return `Promote ${c.pipeline.namespace}/${c.pipeline.name} in ${c.targetEnvironment} to ${c.version}`;
}

/** Weave's block, byte for byte. */
export function metadataBlock(pipeline: PipelineRef, targetEnvironment: string): string {
  return `<details>
<summary>metadata</summary>
!!! DO NOT EDIT !!!

${pipeline.namespace}/${pipeline.name}/${targetEnvironment}
</details>`;
}

const METADATA_HEAD = '<details>\n<summary>metadata</summary>\n!!! DO NOT EDIT !!!\n\n';
const METADATA_TAIL = '\n</details>';
/** Kubernetes names for namespace and Pipeline; an environment name without spaces, slashes or markup. */
const NAME = '[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?';
const REFERENCE = new RegExp(`^(${NAME})/(${NAME})/([^\\s/<>&]+)$`);

/**
 * The `<ns>/<name>/<env>` of the body's metadata block: only the real one, which ends the body and
 * has Weave's exact markers on lines of their own. Copies elsewhere in the body (quoted from
 * outside, or typed by someone) are ignored.
 */
export function readMetadata(body: string): { namespace: string; name: string; environment: string } | undefined {
  const text = body.replace(/\r\n/g, '\n').replace(/\s+$/, '');
  if (!text.endsWith(METADATA_TAIL)) return undefined;
  const start = text.lastIndexOf(METADATA_HEAD);
  if (start < 0 || (start > 0 && text[start - 1] !== '\n')) return undefined;
  const reference = text.slice(start + METADATA_HEAD.length, text.length - METADATA_TAIL.length);
  const match = REFERENCE.exec(reference);
  if (!match) return undefined;
  const [, namespace, name, environment] = match;
  return namespace && name && environment ? { namespace, name, environment } : undefined;
}

export function pullRequestBody(c: PullRequestContent): string {
  const { pipeline, sourceEnvironment, targetEnvironment, version, event, approval, rollback } = c;
  const app = event ? `${inline(event.involvedObject.kind)} ${code(event.involvedObject.name)}` : 'the application';
  const lines: string[] = [
    `Promotes ${app} of Pipeline ${code(`${pipeline.namespace}/${pipeline.name}`)} to version ${code(version)} ` +
      `in ${code(targetEnvironment)}. Merging this pull request deploys it there.`,
    '',
    `- **Version:** ${code(version)}`,
    rollback === undefined
      ? `- **From:** ${code(sourceEnvironment)}, where it is deployed`
      : `- **Rollback:** asked for by ${code(rollback.by)} at ${inline(rollback.at)}`,
    `- **Into:** ${code(targetEnvironment)}`,
  ];
  if (event) {
    const { involvedObject: object } = event;
    const revision = event.revision === version ? '' : ` (revision ${code(event.revision)})`;
    lines.push(
      `- **Event:** ${inline(event.reason)} on ${inline(object.kind)} ${code(`${object.namespace}/${object.name}`)}${revision}, ` +
        `reported by ${inline(event.reportingController)} at ${inline(event.timestamp)}`,
    );
  }
  if (approval) {
    lines.push(`- **Approved by:** ${code(approval.approver)}${approval.at ? ` at ${inline(approval.at)}` : ''}`);
  }
  const workflow = c.workflowUrl ? `[${code(c.workflowId)}](${linkTarget(c.workflowUrl)})` : code(c.workflowId);
  lines.push(`- **Workflow:** ${workflow} in the Temporal UI: the whole journey of this version, and where to approve or reject`);
  if (event?.message) lines.push('', `Flux reported in ${code(sourceEnvironment)}:`, '', blockQuote(event.message));
  if (rollback !== undefined) lines.push('', `${code(rollback.by)} asked for this rollback because:`, '', blockQuote(rollback.reason));
  if (approval?.comment) lines.push('', `${code(approval.approver)} commented:`, '', blockQuote(approval.comment));
  lines.push(
    '',
    `Opened by Baton. Every promotion of this Pipeline into ${code(targetEnvironment)} rebuilds the branch and updates this pull request.`,
    '',
    metadataBlock(pipeline, targetEnvironment),
  );
  return lines.join('\n');
}
