/** Where the gateway takes a decision: one builder for the CLI that sends it and the notices that point at it. */
import type { PipelineRef } from './pipeline.js';

export type DecisionKind = 'approve' | 'reject';

/** `/approval/<ns>/<name>/<env>/<version>` (or `/rejection/…`), every segment percent-encoded. */
export function decisionPath(decision: DecisionKind, pipeline: PipelineRef, environment: string, version: string): string {
  const prefix = decision === 'reject' ? 'rejection' : 'approval';
  return `/${prefix}/${[pipeline.namespace, pipeline.name, environment, version].map(encodeURIComponent).join('/')}`;
}
