/** A provider from its client factory: clients cached per (repository, credentials), one find-or-create. */
import { ANY_HOST, assertHostAllowed } from '../http/host-allowlist.js';
import { createHttpClient, type HttpClient } from '../http/client.js';
import { ClientCache } from './client-cache.js';
import { type FailureContext, repositoryLabel } from './failures.js';
import { findOrCreate } from './find-or-create.js';
import type { ProviderClientFactory, ProviderCredentials, PullRequestProvider, PullRequestProviderOptions } from './provider.js';

export const DEFAULT_USER_AGENT = 'baton';

export function cachedProvider(name: string, build: ProviderClientFactory, options: PullRequestProviderOptions = {}): PullRequestProvider {
  const cache = new ClientCache(options.maxClients);
  return {
    name,
    async findOrCreate(request) {
      assertHostAllowed(request.repositoryUrl, options.allowedHosts ?? ANY_HOST);
      const client = cache.get(request.repositoryUrl, request, () => build(request.repositoryUrl, request, options));
      return findOrCreate(client, request);
    },
    status(query) {
      assertHostAllowed(query.repositoryUrl, options.allowedHosts ?? ANY_HOST);
      return cache.get(query.repositoryUrl, query, () => build(query.repositoryUrl, query, options)).status(query.number);
    },
    close: () => cache.close(),
  };
}

/** The HTTP client a provider client sends through: Baton's, or the test's replacement. */
export function providerHttp(credentials: ProviderCredentials, options: PullRequestProviderOptions): HttpClient {
  if (options.fetch) return { fetch: options.fetch, close: () => Promise.resolve() };
  return createHttpClient({
    ...(credentials.ca === undefined ? {} : { ca: credentials.ca }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
}

export function failureContext(
  provider: string,
  repositoryUrl: string,
  credentials: ProviderCredentials,
  options: PullRequestProviderOptions,
): FailureContext {
  return {
    provider,
    repository: repositoryLabel(repositoryUrl),
    token: credentials.token,
    ...(options.now ? { now: options.now } : {}),
  };
}
