import assert from 'node:assert/strict';
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
