/**
 * The `http` verification check: GET the URL `samples` times, `interval` apart; each answer must have
 * the expected status and, with `jsonPath`, the expected value there. An unreachable service is a
 * failed sample, not a problem of the check: the version's service not answering is what it verifies.
 */
import { isDeepStrictEqual } from 'node:util';
import type { CheckResult, HttpCheck, VerificationSample } from '../../model/verification.js';
import { jsonPathSteps } from '../../model/verification.js';
import type { Fetch } from '../http/client.js';
import { redactUrl } from '../http/redact-url.js';
import { networkError, sample, sampleRepeatedly } from './sampling.js';

/** What the value found at `jsonPath` is quoted as. */
const QUOTED_VALUE_CHARS = 80;

/** The value at `steps` in `document`, or `missing` when the path leads nowhere. */
export function valueAt(document: unknown, steps: readonly (string | number)[]): { found: true; value: unknown } | { found: false } {
  let current: unknown = document;
  for (const step of steps) {
    if (typeof step === 'number') {
      if (!Array.isArray(current) || step >= current.length) return { found: false };
      current = current[step];
    } else {
      if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, step))
        return { found: false };
      current = (current as Record<string, unknown>)[step];
    }
  }
  return { found: true, value: current };
}

function quoted(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > QUOTED_VALUE_CHARS ? `${text.slice(0, QUOTED_VALUE_CHARS - 1)}…` : text;
}

async function takeSample(check: HttpCheck, fetch: Fetch, headers: Record<string, string>): Promise<VerificationSample> {
  let response: Response;
  try {
    response = await fetch(check.url, { headers: { accept: 'application/json, */*', ...headers } });
  } catch (error) {
    return sample(false, `no answer: ${networkError(error)}`);
  }
  const body = check.jsonPath === undefined ? undefined : await response.text().catch(() => '');
  if (body === undefined) await response.body?.cancel();
  if (response.status !== check.status) return sample(false, `status ${response.status}, expected ${check.status}`);
  if (check.jsonPath === undefined) return sample(true, `status ${response.status}`);
  let document: unknown;
  try {
    document = JSON.parse(body ?? '');
  } catch {
    return sample(false, `status ${response.status}, but the answer is not JSON`);
  }
  const at = valueAt(document, jsonPathSteps(check.jsonPath) ?? []);
  if (!at.found) return sample(false, `status ${response.status}, nothing at ${check.jsonPath}`);
  const passed = isDeepStrictEqual(at.value, check.equals);
  return sample(
    passed,
    `status ${response.status}, ${check.jsonPath} = ${quoted(at.value)}${passed ? '' : `, expected ${quoted(check.equals)}`}`,
  );
}

export function runHttpCheck(check: HttpCheck, fetch: Fetch, headers: Record<string, string>): Promise<CheckResult> {
  return sampleRepeatedly(
    check.samples,
    check.intervalMs,
    () => takeSample(check, fetch, headers),
    (failed, index) => `GET ${redactUrl(check.url)}: sample ${index + 1} of ${check.samples}: ${failed.observed}`,
  );
}
