/**
 * The redirect policy of every HTTP client that carries credentials (provider APIs, git): follow a
 * few, only within the same origin (scheme, host and port), so neither a token nor a repository's
 * content can be sent elsewhere or downgraded from https to http.
 */
import { redactUrl } from './redact-url.js';

export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Whether an answer is a redirect a client has to decide on. */
export function isRedirect(status: number, location: unknown): location is string {
  return REDIRECT_STATUSES.has(status) && typeof location === 'string';
}

/** Where a redirect may lead: `location` resolved against `from` when it keeps the same origin. */
export function redirectTarget(from: URL, location: string): URL | undefined {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return undefined;
  }
  return next.origin === from.origin ? next : undefined;
}

export type RedirectStep = { followed: true; url: URL; method: string; dropsBody: boolean } | { followed: false; refusal: string };

/**
 * The request after redirect number `hops` (from 0), or why it is refused. As fetch does, 303, and
 * 301/302 after a POST, continue as a GET without a body.
 */
export function followRedirect(from: URL, status: number, location: string, method: string, hops: number): RedirectStep {
  const next = redirectTarget(from, location);
  if (next === undefined || hops >= MAX_REDIRECTS) {
    const to = next?.href ?? absolute(location, from);
    return {
      followed: false,
      refusal:
        `${redactUrl(from.href)} answered ${status} redirecting to ${redactUrl(to)}, which is not followed ` +
        '(another origin, https to http, or too many redirects)',
    };
  }
  const asGet = status === 303 || ((status === 301 || status === 302) && method === 'POST');
  return { followed: true, url: next, method: asGet ? 'GET' : method, dropsBody: asGet };
}

/** `location` resolved against `base` when it parses; as given otherwise (redactUrl copes with both). */
function absolute(location: string, base: URL): string {
  try {
    return new URL(location, base).href;
  } catch {
    return location;
  }
}
