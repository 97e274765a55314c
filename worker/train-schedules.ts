/**
 * Keeps one Temporal Schedule per release train (Pipeline, environment) in step with the Pipelines:
 * created for a new `promotion.baton.dev/train.<env>` annotation, updated when its value changes,
 * deleted when the annotation or the Pipeline goes. The Schedules are ordinary ones: people see them
 * on the Temporal UI's Schedules page and may pause one (a paused train does not depart; its
 * releases wait). Baton owns the Schedules whose ID starts with `train/` and touches no other.
 *
 * The annotation's value is kept in the Schedule's memo (and its action's, which an update can
 * change): the server turns a cron expression into calendar specs, so the memo is what tells whether
 * a Schedule still matches its annotation. Updates keep a paused Schedule paused.
 */
import { type Client, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Logger } from 'pino';
import { type Pipeline, type PipelineRef, pipelineKey } from '../model/pipeline.js';
import { promotionPolicyProblems } from '../model/promotion-policies.js';
import {
  pipelineTrains,
  type ReleaseTrain,
  TRAIN_DEPARTURE_WORKFLOW_TYPE,
  TRAIN_SCHEDULE_PREFIX,
  type TrainDepartureInput,
  trainScheduleId,
} from '../model/release-train.js';

/** The memo key holding the annotation's value a Schedule was made from. */
const TRAIN_MEMO = 'train';
/** A departure missed while the server was down still runs if it is this late at most; later ones are skipped. */
const CATCHUP_WINDOW = '10 minutes';

interface WantedTrain {
  pipeline: PipelineRef;
  environment: string;
  train: ReleaseTrain;
}

export interface TrainSync {
  created: string[];
  updated: string[];
  deleted: string[];
}

/**
 * Brings the train Schedules in line with `pipelines`. A Pipeline whose policies cannot be read keeps
 * the Schedules it had: its releases fail anyway, and a typo must not silently drop a train.
 */
export async function syncTrainSchedules(client: Client, pipelines: readonly Pipeline[], taskQueue: string): Promise<TrainSync> {
  const wanted = new Map<string, WantedTrain>();
  const kept = new Set<string>();
  for (const pipeline of pipelines) {
    const ref = { namespace: pipeline.namespace, name: pipeline.name };
    if (promotionPolicyProblems(pipeline).length > 0) {
      kept.add(`${TRAIN_SCHEDULE_PREFIX}${pipelineKey(ref)}/`);
      continue;
    }
    for (const [environment, train] of pipelineTrains(pipeline).trains) {
      wanted.set(trainScheduleId(ref, environment), { pipeline: ref, environment, train });
    }
  }
  const existing = new Map<string, string | undefined>();
  for await (const schedule of client.schedule.list()) {
    if (!schedule.scheduleId.startsWith(TRAIN_SCHEDULE_PREFIX)) continue;
    const memo = schedule.memo?.[TRAIN_MEMO];
    existing.set(schedule.scheduleId, typeof memo === 'string' ? memo : undefined);
  }
  const sync: TrainSync = { created: [], updated: [], deleted: [] };
  for (const [scheduleId, want] of wanted) {
    if (!existing.has(scheduleId)) {
      await createSchedule(client, scheduleId, want, taskQueue);
      sync.created.push(scheduleId);
    } else if (existing.get(scheduleId) !== want.train.text && (await updateSchedule(client, scheduleId, want, taskQueue))) {
      sync.updated.push(scheduleId);
    }
  }
  for (const scheduleId of existing.keys()) {
    if (wanted.has(scheduleId) || [...kept].some((prefix) => scheduleId.startsWith(prefix))) continue;
    try {
      await client.schedule.getHandle(scheduleId).delete();
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
    sync.deleted.push(scheduleId);
  }
  return sync;
}

function departureAction({ pipeline, environment, train }: WantedTrain, taskQueue: string) {
  const input: TrainDepartureInput = { pipeline, environment };
  return {
    type: 'startWorkflow' as const,
    workflowType: TRAIN_DEPARTURE_WORKFLOW_TYPE,
    args: [input],
    taskQueue,
    workflowId: `train-departure/${pipelineKey(pipeline)}/${environment}`,
    // An update cannot change the Schedule's memo, but it can change the action's: after an edit of
    // the annotation, that is where the value the Schedule follows is read.
    memo: { [TRAIN_MEMO]: train.text },
  };
}

async function createSchedule(client: Client, scheduleId: string, want: WantedTrain, taskQueue: string): Promise<void> {
  const { pipeline, environment, train } = want;
  await client.schedule.create({
    scheduleId,
    spec: { cronExpressions: [train.cron], timezone: train.zone },
    action: departureAction(want, taskQueue),
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW },
    memo: { [TRAIN_MEMO]: train.text },
    state: { note: `The ${environment} train of ${pipelineKey(pipeline)}: ${train.text} (kept in step with the Pipeline by Baton)` },
  });
}

/**
 * Points the Schedule at the annotation's new value, keeping its state (paused or not, and its
 * note); false when an earlier sync did so already.
 */
async function updateSchedule(client: Client, scheduleId: string, want: WantedTrain, taskQueue: string): Promise<boolean> {
  const handle = client.schedule.getHandle(scheduleId);
  const { action } = await handle.describe();
  if (action.type === 'startWorkflow' && action.memo?.[TRAIN_MEMO] === want.train.text) return false;
  await handle.update((previous) => ({
    ...previous,
    spec: { cronExpressions: [want.train.cron], timezone: want.train.zone },
    action: departureAction(want, taskQueue),
  }));
  return true;
}

/**
 * Syncs now and then every `everyMs`, and on `nudge()` (a Pipeline changed); returns a stop function.
 * A failed sync is logged and tried again at the next turn.
 */
export function startTrainScheduler(options: {
  client: Client;
  pipelines: () => Pipeline[];
  taskQueue: string;
  log: Logger;
  everyMs?: number;
}): { stop: () => Promise<void>; nudge: () => Promise<TrainSync | undefined> } {
  const { client, pipelines, taskQueue, log } = options;
  let running: Promise<TrainSync | undefined> = Promise.resolve(undefined);
  const turn = (): Promise<TrainSync | undefined> => {
    running = running.then(async () => {
      try {
        const sync = await syncTrainSchedules(client, pipelines(), taskQueue);
        if (sync.created.length + sync.updated.length + sync.deleted.length > 0) log.info(sync, 'release train Schedules synced');
        return sync;
      } catch (error) {
        log.warn({ err: error }, 'syncing the release train Schedules failed; trying again later');
        return undefined;
      }
    });
    return running;
  };
  void turn();
  const timer = setInterval(() => void turn(), options.everyMs ?? 30_000);
  return {
    nudge: turn,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
