/** Reading a Pipeline's pull-request `url` and choosing the API root the token is sent to. */
import { invalidRepositoryUrl } from './failures.js';

export interface RepositoryPath {
  /** `https://host[:port]`. */
  origin: string;
  host: string;
  protocol: 'http:' | 'https:';
  /** Decoded path segments, without a trailing `.git`. */
  segments: string[];
}

/** Splits an http(s) repository URL into origin and path segments; refuses anything else. */
export function repositoryPath(repositoryUrl: string, provider: string): RepositoryPath {
  let url: URL;
  try {
    url = new URL(repositoryUrl.trim());
  } catch {
    throw invalidRepositoryUrl(repositoryUrl, provider, 'is not a URL: use the https address of the repository');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidRepositoryUrl(repositoryUrl, provider, `uses ${url.protocol.replace(/:$/, '')}: use the https address of the repository`);
  }
  let segments: string[];
  try {
    segments = url.pathname
      .split('/')
      .filter((segment) => segment !== '')
      .map((segment) => decodeURIComponent(segment));
  } catch {
    throw invalidRepositoryUrl(repositoryUrl, provider, 'has a malformed percent-encoded path');
  }
  const last = segments.length - 1;
  if (last >= 0) segments[last] = segments[last]!.replace(/\.git$/, '');
  return { origin: url.origin, host: url.host, protocol: url.protocol, segments };
}

/**
 * The API root to use, without a trailing slash: the configured one or the derived one. The token
 * goes there, so plain http is refused unless explicitly allowed.
 */
export function apiRoot(
  repositoryUrl: string,
  provider: string,
  derived: string,
  options: { baseUrl?: string; allowInsecureHttp?: boolean },
): string {
  const root = (options.baseUrl ?? derived).replace(/\/+$/, '');
  let protocol: string;
  try {
    protocol = new URL(root).protocol;
  } catch {
    throw invalidRepositoryUrl(repositoryUrl, provider, `leads to an API root that is not a URL (${root})`);
  }
  if (protocol === 'http:' && !options.allowInsecureHttp) {
    throw invalidRepositoryUrl(
      repositoryUrl,
      provider,
      `leads to the plain-http API ${root}: the token would travel in clear text; use https`,
    );
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw invalidRepositoryUrl(repositoryUrl, provider, `leads to an API root that is not http(s) (${root})`);
  }
  return root;
}
