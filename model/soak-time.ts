/**
 * Soak time: how long a version must have run in an environment before it moves on, from the
 * Pipeline annotation `promotion.baton.dev/soak.<env>`, e.g. `2h`. The time counts from the Flux
 * event that reported the version there (the moment the environment was reached: with every target
 * required, the last target's report).
 *
 * Workflow-safe: durations are Temporal's duration strings, read with the SDK's own parser.
 */
import { msToNumber } from '@temporalio/common';
import type { Pipeline } from './pipeline.js';
import { ANNOTATION_PREFIX } from './pipeline-annotations.js';

const SOAK_ANNOTATION_PREFIX = `${ANNOTATION_PREFIX}/soak.`;
const MS_PER_MINUTE = 60_000;
const MINUTES_PER_DAY = 24 * 60;
/** A soak longer than a year is a typo (`2y` for `2h`), and would outlive any release's idle timeout anyway. */
const MAX_SOAK_MS = 366 * MINUTES_PER_DAY * MS_PER_MINUTE;
const EXAMPLES = 'e.g. 2h, 90m, 1d, "30 minutes"';

/** `promotion.baton.dev/soak.<environment>`. */
export function soakAnnotation(environment: string): string {
  return `${SOAK_ANNOTATION_PREFIX}${environment}`;
}

export interface SoakTime {
  /** The annotation's value, as written. */
  text: string;
  ms: number;
}

export type SoakParse = { ok: true; soak: SoakTime } | { ok: false; problem: string };

/** Parses an annotation value: a positive duration of at most a year. */
export function parseSoak(text: string): SoakParse {
  let ms: number;
  try {
    ms = msToNumber(text.trim() as Parameters<typeof msToNumber>[0]);
  } catch {
    return { ok: false, problem: `not a duration (${EXAMPLES})` };
  }
  if (!Number.isFinite(ms) || ms < 0) return { ok: false, problem: `not a duration (${EXAMPLES})` };
  // Zero may be a placeholder someone meant to fill in: no soak is said by removing the annotation.
  if (ms === 0) return { ok: false, problem: 'a soak of zero is no soak: remove the annotation instead' };
  if (ms > MAX_SOAK_MS) return { ok: false, problem: 'longer than a year: is the unit right?' };
  return { ok: true, soak: { text, ms } };
}

/** A soak annotation that cannot be a policy: never read as "no soak". */
export interface SoakPolicyProblem {
  annotation: string;
  value: string;
  problem: string;
}

/**
 * Every soak annotation of a Pipeline, parsed, and every problem with them: a value that does not
 * parse, an environment the Pipeline does not have, or its last environment (nothing moves on from
 * it). Takes the annotations and environment names, so it serves validated Pipelines and raw
 * Kubernetes objects alike.
 */
export function readSoaks(
  annotations: Readonly<Record<string, string>> | undefined,
  environments: readonly string[],
): { soaks: Map<string, SoakTime>; problems: SoakPolicyProblem[] } {
  const soaks = new Map<string, SoakTime>();
  const problems: SoakPolicyProblem[] = [];
  for (const [annotation, value] of Object.entries(annotations ?? {})) {
    if (!annotation.startsWith(SOAK_ANNOTATION_PREFIX)) continue;
    const environment = annotation.slice(SOAK_ANNOTATION_PREFIX.length);
    const index = environments.indexOf(environment);
    if (index < 0) {
      problems.push({ annotation, value, problem: `the Pipeline has no environment "${environment}" (it has ${environments.join(', ')})` });
      continue;
    }
    if (index === environments.length - 1) {
      problems.push({ annotation, value, problem: `${environment} is the last environment: nothing moves on from it` });
      continue;
    }
    const parsed = parseSoak(value);
    if (parsed.ok) soaks.set(environment, parsed.soak);
    else problems.push({ annotation, value, problem: parsed.problem });
  }
  return { soaks, problems };
}

export function pipelineSoaks(pipeline: Pipeline): ReturnType<typeof readSoaks> {
  return readSoaks(
    pipeline.annotations,
    pipeline.spec.environments.map((e) => e.name),
  );
}

/** Whether the Pipeline has any soak annotation at all (valid or not). */
export function hasSoakAnnotations(pipeline: Pipeline): boolean {
  return Object.keys(pipeline.annotations ?? {}).some((key) => key.startsWith(SOAK_ANNOTATION_PREFIX));
}

/**
 * `1h12m`, `2d4h`, `45m`: the time left, in whole minutes rounded up, so that a soak is never said
 * to be over while it is not.
 */
export function timeLeft(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / MS_PER_MINUTE));
  const days = Math.floor(minutes / MINUTES_PER_DAY);
  const hours = Math.floor((minutes % MINUTES_PER_DAY) / 60);
  const rest = minutes % 60;
  if (days > 0) return `${days}d${hours > 0 ? `${hours}h` : ''}${rest > 0 ? `${rest}m` : ''}`;
  return `${hours > 0 ? `${hours}h` : ''}${rest > 0 || hours === 0 ? `${rest}m` : ''}`;
}
