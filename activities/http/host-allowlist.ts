/**
 * The operator's lists of hosts the worker may contact: git hosts (`BATON_GIT_HOSTS`) and the hosts
 * of verification checks (`BATON_VERIFY_HOSTS`); empty allows any.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { redactUrl } from './redact-url.js';

export const GIT_HOSTS_VARIABLE = 'BATON_GIT_HOSTS';
export const VERIFY_HOSTS_VARIABLE = 'BATON_VERIFY_HOSTS';

export interface HostAllowlist {
  /** The patterns as given, lower-cased: `git.example.com` or `*.example.com`. */
  readonly patterns: readonly string[];
  /** The variable the patterns come from, for messages. */
  readonly variable: string;
  allows(hostname: string): boolean;
}

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

/**
 * Host names or `*.suffix` patterns (any host under `suffix`, not `suffix` itself). Anything else
 * (a scheme, a port, a path, a bare `*`) is refused, so a typo cannot silently allow everything.
 */
export function hostAllowlist(patterns: readonly string[], variable = GIT_HOSTS_VARIABLE): HostAllowlist {
  const normalised = patterns.map((p) => p.trim().toLowerCase()).filter((p) => p.length > 0);
  for (const pattern of normalised) {
    const host = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
    if (!HOST_NAME.test(host)) {
      throw new Error(`${variable}: '${pattern}' is neither a host name nor a *.suffix pattern`);
    }
  }
  const exact = new Set(normalised.filter((p) => !p.startsWith('*.')).map((p) => p.replace(/\.$/, '')));
  const suffixes = normalised.filter((p) => p.startsWith('*.')).map((p) => p.slice(1).replace(/\.$/, ''));
  return {
    patterns: normalised,
    variable,
    allows(hostname) {
      if (normalised.length === 0) return true;
      const host = hostname.toLowerCase().replace(/\.$/, '');
      return exact.has(host) || suffixes.some((suffix) => host.endsWith(suffix) && host.length > suffix.length);
    },
  };
}

/** Any host: the default when `BATON_GIT_HOSTS` is empty. */
export const ANY_HOST: HostAllowlist = hostAllowlist([]);

/** Throws a non-retryable failure naming the host and the variable when `url`'s host is not allowed. */
export function assertHostAllowed(
  url: string | URL,
  allowlist: HostAllowlist,
  what = 'the repository URL',
  type: string = FailureType.invalidRepositoryUrl,
): void {
  let hostname: string;
  try {
    hostname = (typeof url === 'string' ? new URL(url) : url).hostname;
  } catch {
    return; // Not a URL: the caller's own parsing reports it.
  }
  if (allowlist.allows(hostname)) return;
  const shown = redactUrl(hostname);
  throw ApplicationFailure.create({
    type,
    message:
      `${what} ${redactUrl(String(url))} names the host ${shown}, which ${allowlist.variable} does not allow ` +
      `(${allowlist.patterns.join(', ')}): use an allowed host, or ask the operator to add ${shown}`,
    nonRetryable: true,
    details: [{ host: shown }],
  });
}
