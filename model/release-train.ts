/**
 * Release trains: promotions into an environment happen only at the train's departures, from the
 * Pipeline annotation `promotion.baton.dev/train.<env>`, e.g. `0 10 * * TUE,THU Europe/Berlin` — a
 * five-field cron expression (minute hour day-of-month month day-of-week) and an IANA time zone.
 *
 * The departures themselves come from a Temporal Schedule per (Pipeline, environment) with the same
 * cron expression and zone, so people see and pause them on the Temporal UI's Schedules page. This
 * module only reads the annotation and says when the next departure is, for the release's state:
 * pure computation with croner over the zone rules Node's ICU carries, workflow-safe on the
 * workflow clock as change windows are.
 */
import { Cron } from 'croner';
import { IANAZone } from 'luxon';
import type { Pipeline, PipelineRef } from './pipeline.js';
import { ANNOTATION_PREFIX } from './pipeline-annotations.js';
import { type PolicyProblem, readPromotionIntoAnnotations } from './environment-annotations.js';

const TRAIN_ANNOTATION_PREFIX = `${ANNOTATION_PREFIX}/train.`;
const EXAMPLE = '0 10 * * TUE,THU Europe/Berlin';
const CRON_FIELDS = 5;

/** `promotion.baton.dev/train.<environment>`. */
export function trainAnnotation(environment: string): string {
  return `${TRAIN_ANNOTATION_PREFIX}${environment}`;
}

export interface ReleaseTrain {
  /** The annotation's value, as written. */
  text: string;
  /** The five cron fields, as the Schedule's spec takes them. */
  cron: string;
  /** IANA time zone the cron expression is read in. */
  zone: string;
}

export type TrainParse = { ok: true; train: ReleaseTrain } | { ok: false; problem: string };

/** Parses an annotation value; the problem says which part is at fault. */
export function parseTrain(text: string): TrainParse {
  const tokens = text.trim().split(/\s+/);
  const shape = `expected "<minute> <hour> <day of month> <month> <day of week> <IANA time zone>", e.g. "${EXAMPLE}"`;
  if (tokens.length !== CRON_FIELDS + 1) return { ok: false, problem: shape };
  const zone = tokens[CRON_FIELDS]!;
  if (!IANAZone.isValidZone(zone))
    return { ok: false, problem: `"${zone}" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)` };
  const cron = tokens.slice(0, CRON_FIELDS).join(' ');
  // Only what croner (the state's next departure) and the Schedule (the departures) read alike.
  const odd = cron.split(/[\s,/-]+/).find((atom) => !/^(\*|\d{1,2}|[A-Za-z]{3})$/.test(atom));
  if (odd !== undefined) {
    return { ok: false, problem: `"${odd}" in "${cron}" is not a number, * or a month or day name: plain cron only (, - / allowed)` };
  }
  try {
    const schedule = cronOf(cron, zone);
    if (schedule.nextRun(new Date(0)) === null) return { ok: false, problem: `"${cron}" never departs` };
  } catch (error) {
    return { ok: false, problem: `"${cron}" is not a cron expression: ${error instanceof Error ? error.message : String(error)}` };
  }
  return { ok: true, train: { text, cron, zone } };
}

function cronOf(cron: string, zone: string): Cron {
  // Paused and without a function: croner only computes, it never sets a timer.
  return new Cron(cron, { timezone: zone, paused: true, mode: '5-part' });
}

/** The departures strictly after `ms` (epoch milliseconds), the first `count` of them. */
export function departuresAfter(train: ReleaseTrain, ms: number, count: number): number[] {
  return cronOf(train.cron, train.zone)
    .nextRuns(count, new Date(ms))
    .map((d) => d.getTime());
}

/** The next departure strictly after `ms`. */
export function nextDeparture(train: ReleaseTrain, ms: number): number {
  const [next] = departuresAfter(train, ms, 1);
  // Unreachable for a parsed train: parsing checks that it departs.
  if (next === undefined) throw new Error(`the train "${train.text}" never departs`);
  return next;
}

/** A train annotation that cannot be a policy: never read as "no train". */
export type TrainPolicyProblem = PolicyProblem;

/**
 * Every train annotation of a Pipeline, parsed, and every problem with them: a value that does not
 * parse, an environment the Pipeline does not have, or its first environment (nothing is promoted
 * into it).
 */
export function readTrains(
  annotations: Readonly<Record<string, string>> | undefined,
  environments: readonly string[],
): { trains: Map<string, ReleaseTrain>; problems: TrainPolicyProblem[] } {
  const { values, problems } = readPromotionIntoAnnotations(annotations, environments, TRAIN_ANNOTATION_PREFIX, (value) => {
    const parsed = parseTrain(value);
    return parsed.ok ? { ok: true, value: parsed.train } : parsed;
  });
  return { trains: values, problems };
}

export function pipelineTrains(pipeline: Pipeline): ReturnType<typeof readTrains> {
  return readTrains(
    pipeline.annotations,
    pipeline.spec.environments.map((e) => e.name),
  );
}

/** Whether the Pipeline has any train annotation at all (valid or not). */
export function hasTrainAnnotations(pipeline: Pipeline): boolean {
  return Object.keys(pipeline.annotations ?? {}).some((key) => key.startsWith(TRAIN_ANNOTATION_PREFIX));
}

/** The Schedule of a Pipeline's train into `environment`: `train/<namespace>/<name>/<environment>`. */
export function trainScheduleId(pipeline: PipelineRef, environment: string): string {
  return `${TRAIN_SCHEDULE_PREFIX}${pipeline.namespace}/${pipeline.name}/${environment}`;
}

/** Every Schedule Baton owns starts so; the others on the namespace are left alone. */
export const TRAIN_SCHEDULE_PREFIX = 'train/';

/** The workflow type `workflows/train-departure.ts` exports; Schedules start it by this name. */
export const TRAIN_DEPARTURE_WORKFLOW_TYPE = 'trainDeparture';

export interface TrainDepartureInput {
  pipeline: PipelineRef;
  environment: string;
}
