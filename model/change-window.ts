/**
 * Change windows: the times promotions into an environment may happen, from the Pipeline annotation
 * `promotion.baton.dev/window.<env>`, e.g. `Mon-Thu 09:00-16:00 Europe/Berlin; Fri 09:00-12:00 Europe/Berlin`.
 *
 * A rule holds on its days while the wall clock of its IANA zone reads from the start (included) to
 * the end (excluded), so daylight-saving time moves a window's instants with the clocks: Mon 09:00
 * Europe/Berlin is 08:00 UTC in winter and 07:00 UTC in summer. On a spring-forward day a start that
 * the clocks skip opens the window at the jump (the first instant whose wall time is past it); on a
 * fall-back day the repeated hour is inside whenever its wall time is.
 *
 * Workflow-safe and deterministic: pure computation on the instants it is given (the workflow clock
 * in a release), with the zone rules of the ICU time zone data built into Node, which Luxon reads
 * through `Intl` — present in the workflow sandbox as in any Node context. The rules change only with
 * the Node version the worker runs (its `process.versions.tz`); computing in the workflow rather than in
 * a local activity keeps a wait one timer, replayable from its history, at the price that a worker
 * upgrade whose zone data changed a rule in force during a wait computes that wait afresh.
 */
import { DateTime, IANAZone } from 'luxon';
import type { Pipeline } from './pipeline.js';
import { ANNOTATION_PREFIX } from './pipeline-annotations.js';
import { type PolicyProblem, readPromotionIntoAnnotations } from './environment-annotations.js';

const WINDOW_ANNOTATION_PREFIX = `${ANNOTATION_PREFIX}/window.`;

/** `promotion.baton.dev/window.<environment>`. */
export function windowAnnotation(environment: string): string {
  return `${WINDOW_ANNOTATION_PREFIX}${environment}`;
}

/** Luxon's weekday numbers: 1 = Monday … 7 = Sunday. */
const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const FULL_DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
const MINUTES_PER_DAY = 24 * 60;
const MS_PER_MINUTE = 60_000;
/** A weekly window opens within a week; a day more covers a start the clocks skip. */
const SEARCH_DAYS = 8;
const EXAMPLE = 'Mon-Fri 09:00-17:00 Europe/Berlin';

export interface WindowRule {
  /** Luxon weekdays (1 = Monday … 7 = Sunday). */
  days: number[];
  /** Minutes after local midnight: start included, end excluded (end 1440 = `24:00`). */
  start: number;
  end: number;
  /** IANA time zone. */
  zone: string;
}

export interface ChangeWindow {
  /** The annotation's value, as written. */
  text: string;
  rules: WindowRule[];
}

export type WindowParse = { ok: true; window: ChangeWindow } | { ok: false; problem: string };

/** Parses an annotation value; the problem names the rule and the part at fault. */
export function parseWindow(text: string): WindowParse {
  const segments = text.split(';').map((s) => s.trim());
  // One ';' at the end is a habit from lists, not a rule.
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  if (segments.every((s) => s === '')) return { ok: false, problem: `the window is empty: write rules such as "${EXAMPLE}"` };
  const rules: WindowRule[] = [];
  for (const [i, segment] of segments.entries()) {
    if (segment === '') return { ok: false, problem: `rule ${i + 1} is empty (two ';' in a row)` };
    const rule = parseRule(segment);
    // The whole value is quoted wherever a problem is shown; only a rule among several needs naming.
    if (typeof rule === 'string') return { ok: false, problem: segments.length === 1 ? rule : `rule ${i + 1} "${segment}": ${rule}` };
    rules.push(rule);
  }
  return { ok: true, window: { text, rules } };
}

/** One rule, or what is wrong with it. */
function parseRule(segment: string): WindowRule | string {
  // `Mon - Fri`, `Mon, Wed` and `09:00 - 17:00` read as `Mon-Fri`, `Mon,Wed` and `09:00-17:00`.
  const tokens = segment
    .replace(/\s*,\s*/g, ',')
    .replace(/([a-z])\s*-\s*([a-z])/gi, '$1-$2')
    .replace(/(\d)\s*-\s*(\d)/g, '$1-$2')
    .split(/\s+/);
  const shape = `expected "<days> <HH:MM-HH:MM> <IANA time zone>", e.g. "${EXAMPLE}"`;
  if (tokens.length > 3) return `too many parts: ${shape}`;
  if (tokens.length < 3) {
    const last = tokens[tokens.length - 1] ?? '';
    return /^\d/.test(last) ? `no time zone: ${shape}` : `missing the days or the times: ${shape}`;
  }
  const [daysText, timesText, zone] = tokens as [string, string, string];
  const days = parseDays(daysText);
  if (typeof days === 'string') return days;
  const times = parseTimes(timesText);
  if (typeof times === 'string') return times;
  if (!IANAZone.isValidZone(zone)) return `"${zone}" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`;
  return { days, ...times, zone };
}

function parseDays(text: string): number[] | string {
  const days = new Set<number>();
  for (const item of text.split(',')) {
    const bounds = item.split('-');
    if (bounds.length > 2 || bounds.some((b) => b === '')) return `"${item}" is not a day or a day range such as Mon-Fri`;
    const [from, to] = bounds.map(dayNumber);
    if (typeof from === 'string') return from;
    if (typeof to === 'string') return to;
    // A range may wrap around the week: Fri-Mon is Fri, Sat, Sun, Mon.
    const count = to === undefined ? 1 : ((to - from! + 7) % 7) + 1;
    for (let k = 0; k < count; k += 1) days.add(((from! - 1 + k) % 7) + 1);
  }
  return [...days].sort((a, b) => a - b);
}

function dayNumber(name: string): number | string {
  const lower = name.toLowerCase();
  const index = DAY_NAMES.findIndex((d, i) => d.toLowerCase() === lower || FULL_DAY_NAMES[i] === lower);
  return index < 0 ? `"${name}" is not a day: use ${DAY_NAMES.join(', ')}` : index + 1;
}

function parseTimes(text: string): { start: number; end: number } | string {
  const bounds = text.split('-');
  if (bounds.length !== 2) return `"${text}" is not a time range HH:MM-HH:MM`;
  const [start, end] = bounds.map(minutesOf) as [number | string, number | string];
  if (typeof start === 'string') return start;
  if (typeof end === 'string') return end;
  if (start === MINUTES_PER_DAY) return `"${text}" starts at 24:00, the end of the day: start at 00:00 instead`;
  if (end <= start) {
    return (
      `"${text}" ends before it starts: a window over midnight is two rules, ` +
      `e.g. "Fri 22:00-24:00 Europe/Berlin; Sat 00:00-02:00 Europe/Berlin"`
    );
  }
  return { start, end };
}

function minutesOf(text: string): number | string {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text);
  const problem = `"${text}" is not a time HH:MM between 00:00 and 24:00`;
  if (match === null) return problem;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (minutes > 59 || hours > 24 || (hours === 24 && minutes > 0)) return problem;
  return hours * 60 + minutes;
}

function local(ms: number, zone: string): DateTime {
  return DateTime.fromMillis(ms, { zone });
}

function ruleHolds(rule: WindowRule, ms: number): boolean {
  const at = local(ms, rule.zone);
  const minute = at.hour * 60 + at.minute;
  return rule.days.includes(at.weekday) && minute >= rule.start && minute < rule.end;
}

/** Whether promotions may happen at `ms` (epoch milliseconds). */
export function isOpen(window: ChangeWindow, ms: number): boolean {
  return window.rules.some((rule) => ruleHolds(rule, ms));
}

/** When the window is next open, at or after `ms`, and the rule that opens it. */
export function nextOpening(window: ChangeWindow, ms: number): { at: number; rule: WindowRule } {
  let best: { at: number; rule: WindowRule } | undefined;
  for (const rule of window.rules) {
    const at = ruleHolds(rule, ms) ? ms : ruleOpening(rule, ms);
    if (at !== undefined && (best === undefined || at < best.at)) best = { at, rule };
  }
  // Unreachable for a parsed window: every rule holds for some minutes of each of its weekdays.
  if (best === undefined) throw new Error(`the window "${window.text}" never opens`);
  return best;
}

/**
 * The first instant after `ms` at which `rule` holds (`ms` itself does not). The wall clock reaches
 * the rule's start either by running on — the instant whose local time is the start, under the day's
 * offset before or after a transition — or by jumping at a daylight-saving transition, so those are
 * the only candidates for each day.
 */
function ruleOpening(rule: WindowRule, ms: number): number | undefined {
  const today = local(ms, rule.zone).startOf('day');
  let best: number | undefined;
  for (let k = 0; k <= SEARCH_DAYS; k += 1) {
    const day = today.plus({ days: k });
    if (!rule.days.includes(day.weekday)) continue;
    const dayStart = DateTime.fromObject({ year: day.year, month: day.month, day: day.day }, { zone: rule.zone }).toMillis();
    const nextDay = day.plus({ days: 1 });
    const dayEnd = DateTime.fromObject({ year: nextDay.year, month: nextDay.month, day: nextDay.day }, { zone: rule.zone }).toMillis();
    const offsets = new Set([local(dayStart, rule.zone).offset, local(dayEnd - 1, rule.zone).offset]);
    const wallStart = Date.UTC(day.year, day.month - 1, day.day) + rule.start * MS_PER_MINUTE;
    const candidates = [...offsets].map((offset) => wallStart - offset * MS_PER_MINUTE);
    if (offsets.size > 1) candidates.push(transition(rule.zone, dayStart, dayEnd));
    for (const at of candidates) {
      if (at > ms && (best === undefined || at < best) && ruleHolds(rule, at) && local(at, rule.zone).hasSame(day, 'day')) best = at;
    }
    if (best !== undefined) return best;
  }
  return best;
}

/** The first minute of [from, to) whose offset is the one in force at its end: the day's clock change. */
function transition(zone: string, from: number, to: number): number {
  const after = local(to - 1, zone).offset;
  let lo = 0;
  let hi = Math.ceil((to - from) / MS_PER_MINUTE) - 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (local(from + mid * MS_PER_MINUTE, zone).offset === after) hi = mid;
    else lo = mid + 1;
  }
  return from + lo * MS_PER_MINUTE;
}

/** `Tue 09:00 Europe/Berlin`: the instant as the rule's zone reads it. */
export function describeInstant(ms: number, zone: string): string {
  const at = local(ms, zone);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${DAY_NAMES[at.weekday - 1]} ${pad(at.hour)}:${pad(at.minute)} ${zone}`;
}

/** A window annotation that cannot be a policy: never read as "no window". */
export type WindowPolicyProblem = PolicyProblem;

/**
 * Every window annotation of a Pipeline, parsed, and every problem with them: a value that does not
 * parse, an environment the Pipeline does not have, or the first environment (nothing is promoted
 * into it). Takes the annotations and environment names, so it serves validated Pipelines and raw
 * Kubernetes objects alike.
 */
export function readWindows(
  annotations: Readonly<Record<string, string>> | undefined,
  environments: readonly string[],
): { windows: Map<string, ChangeWindow>; problems: WindowPolicyProblem[] } {
  const { values, problems } = readPromotionIntoAnnotations(annotations, environments, WINDOW_ANNOTATION_PREFIX, (value) => {
    const parsed = parseWindow(value);
    return parsed.ok ? { ok: true, value: parsed.window } : parsed;
  });
  return { windows: values, problems };
}

export function pipelineWindows(pipeline: Pipeline): ReturnType<typeof readWindows> {
  return readWindows(
    pipeline.annotations,
    pipeline.spec.environments.map((e) => e.name),
  );
}

/** Whether the Pipeline has any window annotation at all (valid or not). */
export function hasWindowAnnotations(pipeline: Pipeline): boolean {
  return Object.keys(pipeline.annotations ?? {}).some((key) => key.startsWith(WINDOW_ANNOTATION_PREFIX));
}
