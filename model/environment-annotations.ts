/**
 * Per-environment policy annotations (`<prefix><env>`, e.g. `promotion.baton.dev/window.prod`):
 * each parsed, and each that cannot be a policy reported with its value and why. Workflow-safe.
 */

/** An annotation, its value as written, and what is wrong with it: never read as "no policy". */
export interface PolicyProblem {
  annotation: string;
  value: string;
  problem: string;
}

export type ParsedValue<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * The annotations starting with `prefix` of a policy on promoting *into* an environment: parsed by
 * `parse`, keyed by environment. An environment the Pipeline does not have, or its first one
 * (nothing is promoted into it), is a problem too.
 */
export function readPromotionIntoAnnotations<T>(
  annotations: Readonly<Record<string, string>> | undefined,
  environments: readonly string[],
  prefix: string,
  parse: (value: string) => ParsedValue<T>,
): { values: Map<string, T>; problems: PolicyProblem[] } {
  const values = new Map<string, T>();
  const problems: PolicyProblem[] = [];
  for (const [annotation, value] of Object.entries(annotations ?? {})) {
    if (!annotation.startsWith(prefix)) continue;
    const environment = annotation.slice(prefix.length);
    const index = environments.indexOf(environment);
    if (index < 0) {
      problems.push({ annotation, value, problem: `the Pipeline has no environment "${environment}" (it has ${environments.join(', ')})` });
      continue;
    }
    if (index === 0) {
      problems.push({ annotation, value, problem: `${environment} is the first environment: nothing is promoted into it` });
      continue;
    }
    const parsed = parse(value);
    if (parsed.ok) values.set(environment, parsed.value);
    else problems.push({ annotation, value, problem: parsed.problem });
  }
  return { values, problems };
}
