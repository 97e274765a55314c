/**
 * How a provider's answer becomes a Temporal failure, for all providers: rate limits retry after the
 * provider's delay; 5xx, timeouts and network errors retry; 401/403, 404, redirects elsewhere and
 * other 4xx are non-retryable and say what to fix. Only a short, sanitised part of an answer is
 * quoted, without the token; no `cause` is attached (a library's error may carry the request).
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { RedirectRefusedError } from '../http/client.js';
import { quoteAnswer } from '../http/quote-answer.js';
import { redactUrl } from '../http/redact-url.js';
import { ProviderHttpError } from './http-error.js';

export interface FailureContext {
  /** `github`, `gitlab`, `bitbucket-server`. */
  provider: string;
  /** The repository as people name it: host and path, no credentials. */
  repository: string;
  /** Scrubbed from every message. */
  token: string;
  now?: () => Date;
}

/** A non-2xx answer: status, a header lookup (case-insensitive) and the provider's message. */
export interface HttpAnswer {
  status: number;
  header(name: string): string | undefined;
  detail: string;
}

/** The longest wait honoured from a provider (GitHub's primary limit resets hourly). */
export const MAX_RETRY_DELAY_MS = 3_600_000;
/** GitHub: a secondary limit without `retry-after` or reset means "wait at least one minute". */
export const SECONDARY_RATE_LIMIT_DELAY_MS = 60_000;
const MIN_RETRY_DELAY_MS = 1_000;

export function scrub(text: string, token: string): string {
  let result = text;
  if (token.length > 0) result = result.split(token).join('[REDACTED]');
  // Basic credentials that an URL may carry (`https://user:secret@host/...`).
  return result.replace(/(\w+:\/\/)[^/@\s]+@/g, '$1[REDACTED]@');
}

/** `host/path` of a repository URL, without credentials, query or `.git`; tolerant of bad input. */
export function repositoryLabel(repositoryUrl: string): string {
  try {
    const url = new URL(repositoryUrl);
    return redactUrl(`${url.host}${url.pathname}`.replace(/\/+$/, '').replace(/\.git$/, ''));
  } catch {
    return redactUrl(repositoryUrl);
  }
}

function clampDelay(ms: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, Math.max(MIN_RETRY_DELAY_MS, Math.ceil(ms)));
}

/**
 * The wait a provider asked for, in milliseconds: `Retry-After` (seconds or an HTTP date), else
 * the reset time of an exhausted quota (`x-ratelimit-reset` on GitHub, `ratelimit-reset` on GitLab,
 * both epoch seconds). Undefined when the answer says nothing.
 */
export function retryDelayMs(answer: Pick<HttpAnswer, 'header'>, now: Date = new Date()): number | undefined {
  const retryAfter = answer.header('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return clampDelay(Number(retryAfter) * 1000);
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return clampDelay(at - now.getTime());
  }
  for (const [remaining, reset] of [
    ['x-ratelimit-remaining', 'x-ratelimit-reset'],
    ['ratelimit-remaining', 'ratelimit-reset'],
  ] as const) {
    const resetAt = Number(answer.header(reset));
    if (answer.header(remaining)?.trim() === '0' && Number.isFinite(resetAt) && resetAt > 0) {
      return clampDelay(resetAt * 1000 - now.getTime());
    }
  }
  return undefined;
}

export function isRateLimited(answer: HttpAnswer): boolean {
  if (answer.status === 429) return true;
  if (answer.status !== 403) return false;
  return (
    answer.header('retry-after') !== undefined ||
    answer.header('x-ratelimit-remaining')?.trim() === '0' ||
    answer.header('ratelimit-remaining')?.trim() === '0' ||
    /rate limit/i.test(answer.detail)
  );
}

function detailOf(answer: HttpAnswer, ctx: FailureContext): string {
  const short = quoteAnswer(scrub(answer.detail, ctx.token));
  return short ? `${answer.status}: ${short}` : String(answer.status);
}

function failure(
  ctx: FailureContext,
  options: { type: FailureType; message: string; nonRetryable: boolean; status?: number; nextRetryDelay?: number },
): ApplicationFailure {
  return ApplicationFailure.create({
    type: options.type,
    message: scrub(options.message, ctx.token),
    nonRetryable: options.nonRetryable,
    details: [{ provider: ctx.provider, repository: ctx.repository, ...(options.status ? { status: options.status } : {}) }],
    ...(options.nextRetryDelay === undefined ? {} : { nextRetryDelay: options.nextRetryDelay }),
  });
}

/** The failure for a provider's non-2xx answer to `action` (e.g. "opening the pull request"). */
export function httpFailure(answer: HttpAnswer, ctx: FailureContext, action: string): ApplicationFailure {
  const { provider, repository } = ctx;
  const { status } = answer;
  const detail = detailOf(answer, ctx);
  const delay = retryDelayMs(answer, ctx.now?.());
  if (isRateLimited(answer)) {
    const nextRetryDelay = delay ?? (status === 403 ? SECONDARY_RATE_LIMIT_DELAY_MS : undefined);
    const when = nextRetryDelay === undefined ? 'retrying with the activity backoff' : `retrying in ${Math.round(nextRetryDelay / 1000)}s`;
    return failure(ctx, {
      type: FailureType.providerRateLimited,
      message: `${provider} rate-limited ${action} for ${repository} (${detail}); ${when}`,
      nonRetryable: false,
      status,
      ...(nextRetryDelay === undefined ? {} : { nextRetryDelay }),
    });
  }
  if (status === 401 || status === 403) {
    return failure(ctx, {
      type: FailureType.providerTokenRejected,
      message:
        `token rejected by ${provider} for ${repository} (${detail}) while ${action}: ` +
        `check the 'token' of the pull-request Secret and its permissions on the repository`,
      nonRetryable: true,
      status,
    });
  }
  if (status === 404) {
    return failure(ctx, {
      type: FailureType.repositoryNotFound,
      message:
        `repository not found: ${repository} (${provider} answered ${detail} while ${action}): ` +
        `check the Pipeline's pull-request url, and that the token may see the repository`,
      nonRetryable: true,
      status,
    });
  }
  if (delay !== undefined || status >= 500 || status === 408) {
    return failure(ctx, {
      type: FailureType.providerUnavailable,
      message: `${provider} failed ${action} for ${repository} (${detail}); retrying`,
      nonRetryable: false,
      status,
      ...(delay === undefined ? {} : { nextRetryDelay: delay }),
    });
  }
  return failure(ctx, {
    type: FailureType.pullRequestRejected,
    message: `${provider} refused ${action} for ${repository} (${detail})`,
    nonRetryable: true,
    status,
  });
}

/** The failure for a request that got no answer: connection refused, reset, DNS, TLS, timeout. */
export function networkFailure(error: unknown, ctx: FailureContext, action: string): ApplicationFailure {
  // Libraries wrap the socket error once or twice (Octokit → fetch → undici): say each thing once.
  const reasons = new Map<string, string | undefined>();
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    const known = reasons.get(current.message);
    reasons.set(current.message, known ?? (typeof code === 'string' && !current.message.includes(code) ? code : undefined));
  }
  const why =
    reasons.size > 0 ? [...reasons].map(([message, code]) => (code ? `${message} (${code})` : message)).join(': ') : String(error);
  return failure(ctx, {
    type: FailureType.providerUnavailable,
    message: `could not reach ${ctx.provider} while ${action} for ${ctx.repository}: ${quoteAnswer(why, 300)}; retrying`,
    nonRetryable: false,
  });
}

export function invalidRepositoryUrl(repositoryUrl: string, provider: string, why: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.invalidRepositoryUrl,
    message: `${provider} repository URL '${redactUrl(repositoryUrl)}' ${why}`,
    nonRetryable: true,
    details: [{ provider }],
  });
}

/** A header lookup over a `Headers` object or the plain lower-cased record libraries return. */
export function headerLookup(headers: Headers | Record<string, string | number | undefined> | undefined) {
  return (name: string): string | undefined => {
    if (headers === undefined) return undefined;
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    const value = headers[name.toLowerCase()];
    return value === undefined ? undefined : String(value);
  };
}

/** Every error a provider call can end with, as the failure for `action`: the one mapping all providers use. */
export function toFailure(error: unknown, ctx: FailureContext, action: string): ApplicationFailure {
  // Libraries wrap what the fetch threw (Octokit: a RequestError with it as `cause`).
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    if (current instanceof ApplicationFailure) return current;
    if (current instanceof ProviderHttpError) {
      return httpFailure({ status: current.status, header: headerLookup(current.headers), detail: current.detail }, ctx, action);
    }
    if (current instanceof RedirectRefusedError) {
      return failure(ctx, {
        type: FailureType.invalidRepositoryUrl,
        message:
          `${ctx.provider} answered ${action} for ${ctx.repository} with a redirect to another origin, which Baton ` +
          `does not follow (${current.message}): set the Pipeline's url to the repository's real address`,
        nonRetryable: true,
        status: current.status,
      });
    }
  }
  return networkFailure(error, ctx, action);
}

/** Runs one provider call, turning whatever it throws into the failure for `action`. */
export async function guarded<T>(ctx: FailureContext, action: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toFailure(error, ctx, action);
  }
}
