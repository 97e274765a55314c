/**
 * Stands in for the release workflow in gateway tests that need a release which ran to completion:
 * same type name and signal, completes at its first `deployed` signal.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { deployedSignal } from '../../../model/messages.js';
import type { ReleaseInput } from '../../../model/release.js';

export async function release(_input: ReleaseInput): Promise<string> {
  let deployed = false;
  setHandler(deployedSignal, () => {
    deployed = true;
  });
  await condition(() => deployed);
  return 'completed';
}
