/**
 * The `promql` verification check: an instant query against a Prometheus HTTP API
 * (`GET <prometheus>/api/v1/query`), taken `samples` times `interval` apart; every series of every
 * sample must meet the threshold, and a sample without any series fails (no data is no evidence).
 *
 * A query Prometheus refuses (400 bad_data, 422 execution), a Prometheus that cannot be reached or
 * refuses the credentials, and a result that is not a number per series cannot be fixed by retrying:
 * the check cannot run, and the release stops. A 5xx answer is retried.
 */
import type { CheckResult, PromqlCheck, VerificationSample } from '../../model/verification.js';
import { meetsThreshold } from '../../model/verification.js';
import type { Fetch } from '../http/client.js';
import { redactUrl } from '../http/redact-url.js';
import { checkCannotRun, networkError, sample, sampleRepeatedly } from './sampling.js';

/** Series a sample names in what it observed. */
const QUOTED_SERIES = 3;
const ERROR_CHARS = 300;

interface PrometheusAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

interface Series {
  labels: string;
  value: number;
}

/** `<base>/api/v1/query`, keeping a path prefix the base has (`http://host/prometheus`). */
export function queryUrl(base: string, query: string): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v1/query`;
  url.search = '';
  url.searchParams.set('query', query);
  return url;
}

function labelsOf(metric: unknown): string {
  if (typeof metric !== 'object' || metric === null) return '{}';
  const entries = Object.entries(metric as Record<string, unknown>).map(([k, v]) => `${k}="${String(v)}"`);
  return `{${entries.join(', ')}}`;
}

/** The numbers an instant query returned, one per series; undefined for a result of another shape. */
function seriesOf(data: PrometheusAnswer['data']): Series[] | undefined {
  const pair = (value: unknown): number | undefined =>
    Array.isArray(value) && value.length === 2 && typeof value[1] === 'string' ? Number(value[1]) : undefined;
  if (data?.resultType === 'scalar') {
    const value = pair(data.result);
    return value === undefined ? undefined : [{ labels: 'scalar', value }];
  }
  if (data?.resultType !== 'vector' || !Array.isArray(data.result)) return undefined;
  const series: Series[] = [];
  for (const item of data.result as { metric?: unknown; value?: unknown }[]) {
    const value = pair(item.value);
    if (value === undefined) return undefined;
    series.push({ labels: labelsOf(item.metric), value });
  }
  return series;
}

async function answerOf(response: Response): Promise<PrometheusAnswer> {
  try {
    return (await response.json()) as PrometheusAnswer;
  } catch {
    return {};
  }
}

async function takeSample(check: PromqlCheck, fetch: Fetch, headers: Record<string, string>): Promise<VerificationSample> {
  const where = redactUrl(check.prometheus);
  let response: Response;
  try {
    response = await fetch(queryUrl(check.prometheus, check.query), { headers: { accept: 'application/json', ...headers } });
  } catch (error) {
    throw checkCannotRun(`Prometheus at ${where} cannot be reached: ${networkError(error)}`);
  }
  const answer = await answerOf(response);
  const refusal = (answer.error ?? '').slice(0, ERROR_CHARS);
  if (response.status === 400 || response.status === 422) {
    throw checkCannotRun(
      `Prometheus at ${where} refused the query (${response.status} ${answer.errorType ?? ''}): ${refusal}`.replace(' ()', ''),
    );
  }
  if (response.status === 401 || response.status === 403) {
    throw checkCannotRun(`Prometheus at ${where} answered ${response.status}: check the secretRef's token`);
  }
  // Retryable: Prometheus is there but failing for now (503 while starting, a proxy's 502).
  if (response.status >= 500) throw new Error(`Prometheus at ${where} answered ${response.status}${refusal ? `: ${refusal}` : ''}`);
  if (response.status !== 200 || answer.status !== 'success') {
    throw checkCannotRun(`Prometheus at ${where} answered ${response.status} without a query result: is it a Prometheus HTTP API?`);
  }
  const series = seriesOf(answer.data);
  if (series === undefined) {
    throw checkCannotRun(
      `the query returns a ${answer.data?.resultType ?? 'result'}, not an instant vector or a scalar (e.g. rate(x[5m]), not x[5m])`,
    );
  }
  if (series.length === 0) return sample(false, 'no series: the query returned no data');
  const failing = series.filter((s) => !meetsThreshold(s.value, check.threshold));
  const shown = (failing.length > 0 ? failing : series).slice(0, QUOTED_SERIES);
  const more = (failing.length > 0 ? failing : series).length - shown.length;
  const observed = shown.map((s) => `${s.labels === '{}' || s.labels === 'scalar' ? '' : `${s.labels} `}${s.value}`).join(', ');
  return sample(
    failing.length === 0,
    `${observed}${more > 0 ? ` (+${more} more)` : ''}${failing.length > 0 ? `, not ${check.threshold.text}` : ''}`,
  );
}

export function runPromqlCheck(check: PromqlCheck, fetch: Fetch, headers: Record<string, string>): Promise<CheckResult> {
  return sampleRepeatedly(
    check.samples,
    check.intervalMs,
    () => takeSample(check, fetch, headers),
    (failed, index) => `${check.query}: sample ${index + 1} of ${check.samples}: ${failed.observed}`,
  );
}
