/**
 * The promotion pull request's title and body. Title and metadata block are Weave GitOps', byte for
 * byte (its UI and users' automation find a pipeline's PRs by them); everything from outside (event
 * text, approver, comments, revisions) is escaped for the provider's Markdown.
 */ import type { PipelineRef } from '../../model/pipeline.js';
import type { DecisionRecord, DeploymentEvent } from '../../model/release.js';

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
}

const MAX_QUOTE_LENGTH = 1_000;

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

/** The `<ns>/<name>/<env>` a body's metadata block names, if it has one (Baton's or Weave's). */
export function readMetadata(body: string): { namespace: string; name: string; environment: string } | undefined {
  const match = /<details>\s*<summary>metadata<\/summary>\s*!!! DO NOT EDIT !!!\s*([^/\s<]+)\/([^/\s<]+)\/([^\s<]+)\s*<\/details>/.exec(
    body,
  );
  if (!match) return undefined;
  const [, namespace, name, environment] = match;
  return namespace && name && environment ? { namespace, name, environment } : undefined;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** An inline code span that survives backticks in the value. */
function code(value: string): string {
  const longest = Math.max(0, ...[...value.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return longest === 0 ? `${fence}${value}${fence}` : `${fence} ${value} ${fence}`;
}

/** Outside text as a Markdown quote: escaped, bounded, one `>` per line. */
function quote(text: string): string {
  const bounded = text.length > MAX_QUOTE_LENGTH ? `${text.slice(0, MAX_QUOTE_LENGTH)}…` : text;
  return escapeHtml(bounded.trim())
    .split(/\r?\n/)
    .map((line) => `> ${line}`.trimEnd())
    .join('\n');
}

/** A single line of outside text: escaped, newlines folded, bounded. */
function inline(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return escapeHtml(line.length > 200 ? `${line.slice(0, 200)}…` : line);
}

/** A URL as a Markdown link target: the characters that would end or break it, percent-encoded. */
function linkTarget(url: string): string {
  return url.replace(/[\s()<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export function pullRequestBody(c: PullRequestContent): string {
  const { pipeline, sourceEnvironment, targetEnvironment, version, event, approval } = c;
  const app = event ? `${event.involvedObject.kind} ${code(event.involvedObject.name)}` : 'the application';
  const lines: string[] = [
    `Promotes ${app} of Pipeline ${code(`${pipeline.namespace}/${pipeline.name}`)} to version ${code(version)} ` +
      `in ${code(targetEnvironment)}. Merging this pull request deploys it there.`,
    '',
    `- **Version:** ${code(version)}`,
    `- **From:** ${code(sourceEnvironment)}, where it is deployed`,
    `- **Into:** ${code(targetEnvironment)}`,
  ];
  if (event) {
    const { involvedObject: object } = event;
    const revision = event.revision === version ? '' : ` (revision ${code(event.revision)})`;
    lines.push(
      `- **Event:** ${inline(event.reason)} on ${object.kind} ${code(`${object.namespace}/${object.name}`)}${revision}, ` +
        `reported by ${inline(event.reportingController)} at ${inline(event.timestamp)}`,
    );
  }
  if (approval) {
    lines.push(`- **Approved by:** ${code(approval.approver)}${approval.at ? ` at ${inline(approval.at)}` : ''}`);
  }
  const workflow = c.workflowUrl ? `[${code(c.workflowId)}](${linkTarget(c.workflowUrl)})` : code(c.workflowId);
  lines.push(`- **Workflow:** ${workflow} in the Temporal UI: the whole journey of this version, and where to approve or reject`);
  if (event?.message) lines.push('', `Flux reported in ${code(sourceEnvironment)}:`, '', quote(event.message));
  if (approval?.comment) lines.push('', `${code(approval.approver)} commented:`, '', quote(approval.comment));
  lines.push(
    '',
    `Opened by Baton. Every promotion of this Pipeline into ${code(targetEnvironment)} rebuilds the branch and updates this pull request.`,
    '',
    metadataBlock(pipeline, targetEnvironment),
  );
  return lines.join('\n');
}
