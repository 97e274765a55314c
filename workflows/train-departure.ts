/**
 * One departure of a release train, started by the train's Temporal Schedule: the highest version
 * waiting for the train is taken (`depart`), and every lower one waiting is superseded by it. Between
 * versions without an order (not both SemVer) the one that started last is taken, as arrival order
 * decides elsewhere. A departure with nobody waiting does nothing.
 */
import {
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setCurrentDetails,
  type SignalDefinition,
  workflowInfo,
} from '@temporalio/workflow';
import type { TrainActivities, TrainPassenger } from '../model/activities.js';
import { precedence } from '../model/environment-claims.js';
import { departSignal, type EnvironmentClaim, supersedeSignal } from '../model/messages.js';
import { pipelineKey } from '../model/pipeline.js';
import type { TrainDepartureInput } from '../model/release-train.js';

export async function trainDeparture({ pipeline, environment }: TrainDepartureInput): Promise<TrainPassenger | undefined> {
  const { trainPassengers } = proxyActivities<TrainActivities>({
    startToCloseTimeout: '1 minute',
    retry: { maximumInterval: '1 minute', maximumAttempts: 10 },
  });
  const passengers = await trainPassengers({ pipeline, environment });
  const at = new Date().toISOString();
  const ranked = (p: TrainPassenger) => ({ version: p.version, at: p.startedAt, workflowId: p.workflowId });
  // Highest first.
  const queue = [...passengers].sort((a, b) => (precedence(ranked(a), ranked(b)) !== undefined ? -1 : 1));
  const departureWorkflowId = workflowInfo().workflowId;
  let taken: TrainPassenger | undefined;
  while (taken === undefined && queue.length > 0) {
    const candidate = queue.shift()!;
    // A release that ended since visibility listed it cannot be taken: the next highest is.
    if (await tell(candidate, departSignal, { environment, at, departureWorkflowId })) taken = candidate;
  }
  if (taken === undefined) {
    setCurrentDetails(`The ${environment} train of ${pipelineKey(pipeline)} departed at ${at} without a version: none was waiting`);
    return undefined;
  }
  const claim: EnvironmentClaim = { version: taken.version, environment, workflowId: taken.workflowId, reason: 'waiting', at };
  const left = queue;
  for (const passenger of left) await tell(passenger, supersedeSignal, claim);
  setCurrentDetails(
    `The ${environment} train of ${pipelineKey(pipeline)} departed at ${at} with ${taken.version}` +
      (left.length === 0 ? '' : `; superseded: ${left.map((p) => p.version).join(', ')}`),
  );
  return taken;
}

/** Signals a release; false when it no longer runs. */
async function tell<Args extends unknown[]>(passenger: TrainPassenger, signal: SignalDefinition<Args>, ...args: Args): Promise<boolean> {
  try {
    await getExternalWorkflowHandle(passenger.workflowId).signal(signal, ...args);
    return true;
  } catch (error) {
    log.info('a release waiting for the train ended meanwhile', { workflowId: passenger.workflowId, error: String(error) });
    return false;
  }
}
