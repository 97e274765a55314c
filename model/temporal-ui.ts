/** Links into the Temporal Web UI, built one way for the gateway's answers, PR bodies and notifications. */

export interface TemporalUiLocation {
  /** The UI's base URL, e.g. `http://localhost:8233` or `https://cloud.temporal.io`. */
  uiUrl: string;
  namespace: string;
}

/** The UI page of a workflow; of one run's history when `runId` is known. */
export function workflowUrl(ui: TemporalUiLocation, workflowId: string, runId?: string): string {
  const workflow = `${ui.uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId === undefined ? workflow : `${workflow}/${encodeURIComponent(runId)}/history`;
}
