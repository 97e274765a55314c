/** Mirroring release progress into `Pipeline.status` (Kubernetes mode; a no-op elsewhere). */
import type { PipelineStatusUpdate, PipelineStatusWriter } from '../status/status-writer.js';

export function createPipelineStatusActivities(writer: PipelineStatusWriter) {
  return {
    recordPipelineStatus(update: PipelineStatusUpdate): Promise<void> {
      return writer.write(update);
    },
  };
}
