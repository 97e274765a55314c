/**
 * What holds a release's next promotion: the stops and freezes of the promotion-controls workflow
 * that cover its Pipeline and environment, and the Pipeline's versions marked bad. A release that something holds (or will hold) is
 * registered there to be told when they change, so a resume reaches it within seconds.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { controlsQuery, watchControlsSignal } from '../model/messages.js';
import { pipelineKey } from '../model/pipeline.js';
import { type ControlsRequest, covers, PROMOTION_CONTROLS_WORKFLOW_ID, type PromotionControl } from '../model/promotion-controls.js';

export function createPromotionControlsActivities(client: Client) {
  return {
    async promotionControls({ pipeline, environment, workflowId }: ControlsRequest): Promise<PromotionControl[]> {
      const handle = client.workflow.getHandle(PROMOTION_CONTROLS_WORKFLOW_ID);
      let controls: PromotionControl[];
      try {
        controls = await handle.query(controlsQuery);
      } catch (error) {
        // Nobody ever stopped or froze anything in this namespace.
        if (error instanceof WorkflowNotFoundError) return [];
        throw error;
      }
      const key = pipelineKey(pipeline);
      const covering = controls.filter((control) => covers(control.scope, key, environment));
      // A mark ends the release instead of holding it: nothing to be told about.
      if (covering.some((control) => control.kind !== 'bad')) {
        await handle.signal(watchControlsSignal, { workflowId, pipeline: key, environment });
      }
      return covering;
    },
  };
}
