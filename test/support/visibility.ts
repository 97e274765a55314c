/** Visibility (what the Temporal UI's list and `temporal`/`tctl workflow list` read) is eventually consistent. */
import type { Client } from '@temporalio/client';
import type { ReleasePhase } from '../../model/release.js';
import { PromotionState } from '../../model/search-attributes.js';
import { eventually } from './eventually.js';

/** Until visibility shows the release `workflowId` in `phase`. */
export function visibleIn(client: Client, workflowId: string, phase: ReleasePhase): Promise<true> {
  const query = `WorkflowId = '${workflowId}' AND ${PromotionState.name} = '${phase}'`;
  return eventually(`visibility to show ${workflowId} in ${phase}`, async () => {
    for await (const _ of client.workflow.list({ query })) return true;
    return undefined;
  });
}
