/**
 * The event Flux's notification-controller POSTs to a `generic`/`generic-hmac` Provider, and how
 * Baton reads a version out of it. Workflow-safe.
 */
import { apiGroup, type InvolvedObject } from './pipeline.js';
import type { DeploymentEvent } from './release.js';

export interface FluxEvent {
  involvedObject: InvolvedObject & { uid?: string; resourceVersion?: string };
  /** `info` or `error` (`trace` on newer controllers); only `info` can promote. */
  severity: string;
  timestamp: string;
  message: string;
  reason: string;
  metadata?: Record<string, string>;
  reportingController: string;
  reportingInstance?: string;
}

/**
 * `metadata.revision`, or the same key still carrying the involved object's group prefix
 * (`helm.toolkit.fluxcd.io/revision`), as older notification-controllers sent it.
 */
export function eventRevision(event: FluxEvent): string | undefined {
  const metadata = event.metadata ?? {};
  const plain = metadata.revision;
  if (plain) return plain;
  const group = apiGroup(event.involvedObject.apiVersion ?? '');
  return group ? metadata[`${group}/revision`] || undefined : undefined;
}

/**
 * The version to write into the next environment: the revision without SemVer build metadata.
 * OCI charts report `6.6.1+0cc9a8446c95`; the `+…` part names the artifact, not the version.
 */
export function promotedVersion(revision: string): string {
  const plus = revision.indexOf('+');
  return plus < 0 ? revision : revision.slice(0, plus);
}

export type EventVerdict = { promotes: true } | { promotes: false; why: string };

/** Whether an event reports a successful deployment; failed upgrades also carry a revision. */
export function judgeEvent(event: FluxEvent, promotingReasons: readonly string[]): EventVerdict {
  if (event.severity !== 'info') {
    return { promotes: false, why: `severity '${event.severity}' events never promote` };
  }
  if (!promotingReasons.includes(event.reason)) {
    return { promotes: false, why: `reason '${event.reason}' does not report a successful deployment` };
  }
  return { promotes: true };
}

/** The reasons of Flux's failure events that stop a running release of the version (with severity `error`). */
export const FAILURE_REASONS: readonly string[] = ['UpgradeFailed', 'InstallFailed', 'HealthCheckFailed', 'ReconciliationFailed'];

/** Whether an event reports that deploying its revision failed. */
export function isFailureEvent(event: FluxEvent): boolean {
  return event.severity === 'error' && FAILURE_REASONS.includes(event.reason);
}

/** What a release keeps of an event: enough to explain the journey, nothing sensitive. */
export function deploymentEvent(event: FluxEvent, revision: string): DeploymentEvent {
  const { apiVersion, kind, namespace, name } = event.involvedObject;
  return {
    revision,
    reason: event.reason,
    message: event.message,
    timestamp: event.timestamp,
    reportingController: event.reportingController,
    involvedObject: { ...(apiVersion === undefined ? {} : { apiVersion }), kind, namespace, name },
  };
}
