import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';

/** The ApplicationFailure `promise` rejects with; fails the test if it resolves or rejects otherwise. */
export async function applicationFailure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => assert.fail('expected the promotion to fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
  return error;
}

/** The ApplicationFailure a release failed with; fails the test if it completes or ends another way. */
export async function releaseFailure(handle: { result(): Promise<unknown> }): Promise<ApplicationFailure> {
  const error = await handle.result().then(
    () => assert.fail('the release should fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WorkflowFailedError, `expected the workflow to fail, got ${String(error)}`);
  assert.ok(error.cause instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error.cause)}`);
  return error.cause;
}
