/**
 * GitLab (gitlab.com and self-managed) merge requests through `@gitbeaker/rest`.
 *
 * The host comes from the repository URL, the project is the whole path (`group/subgroup/project`,
 * sent URL-encoded as the project ID); a web URL's `/-/...` tail is ignored. The token is sent as
 * `Authorization: Bearer`, which personal, project, group and OAuth tokens all accept (Weave used
 * the OAuth form too).
 *
 * Gitbeaker's own requester retries 429 and 502 ten times within a quarter of a second and then
 * throws without the answer's headers, hiding `Retry-After`. Baton gives it a requester of its own
 * (gitbeaker's documented `requesterFn` option) that makes exactly one request through Baton's
 * fetch (timeout, CA, user agent) and leaves retrying to Temporal.
 */
import { MergeRequests } from '@gitbeaker/rest';
import { DEFAULT_USER_AGENT, type Fetch, ProviderHttpError, providerFetch, readBody } from './http.js';
import { type FailureContext, headerLookup, httpFailure, invalidRepositoryUrl, networkFailure, repositoryLabel } from './failures.js';
import { type CreateOutcome, findOrCreate } from './find-or-create.js';
import type { OpenPullRequest, PullRequestProvider, PullRequestProviderOptions, PullRequestRequest } from './provider.js';
import { apiRoot, repositoryPath } from './repository-url.js';

export const GITLAB = 'gitlab';
const MAX_LIST_PAGES = 50;
const API_SUFFIX = '/api/v4';

export interface GitLabRepository {
  apiUrl: string;
  /** `group/subgroup/project`. */
  projectPath: string;
}

export function parseGitLabRepository(repositoryUrl: string): GitLabRepository {
  const { origin, segments } = repositoryPath(repositoryUrl, GITLAB);
  const dash = segments.indexOf('-');
  const path = (dash < 0 ? segments : segments.slice(0, dash)).map((s) => s.replace(/\.git$/, ''));
  if (path.length < 2 || path.some((s) => s === '')) {
    throw invalidRepositoryUrl(repositoryUrl, GITLAB, 'is not https://<host>/<group>[/<subgroup>...]/<project>');
  }
  return { apiUrl: `${origin}${API_SUFFIX}`, projectPath: path.join('/') };
}

type RequesterFn = NonNullable<ConstructorParameters<typeof MergeRequests>[0]['requesterFn']>;
type Requester = ReturnType<RequesterFn>;
type RequestOptions = NonNullable<Parameters<Requester['get']>[1]>;

const snakeCase = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** GitLab's `{message}` / `{error}` (a string, a list, or field → messages) as one line. */
export function gitLabMessage(body: unknown): string {
  if (typeof body === 'string') return body;
  if (typeof body !== 'object' || body === null) return '';
  const { message, error } = body as { message?: unknown; error?: unknown };
  const flatten = (value: unknown): string => {
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return value.map(flatten).join('; ');
    if (typeof value === 'object' && value !== null) {
      return Object.entries(value)
        .map(([field, messages]) => `${field} ${flatten(messages)}`)
        .join('; ');
    }
    return '';
  };
  return flatten(message ?? error);
}

/** One request per call through `fetch`; non-2xx answers throw `ProviderHttpError` with headers. */
export function fetchRequester(fetch: Fetch, userAgent: string): RequesterFn {
  return (service) => {
    const send = async (method: string, endpoint: string, options: RequestOptions = {}) => {
      const url = new URL(endpoint, service.url.endsWith('/') ? service.url : `${service.url}/`);
      for (const [key, value] of Object.entries(options.searchParams ?? {})) {
        if (value === undefined || value === null) continue;
        const text =
          typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
        url.searchParams.set(snakeCase(key), text);
      }
      const headers: Record<string, string> = { ...service.headers, accept: 'application/json', 'user-agent': userAgent };
      for (const [name, value] of Object.entries(service.authHeaders)) headers[name] = await value();
      let body: string | undefined;
      if (options.body !== undefined) {
        if (options.body instanceof FormData) throw new TypeError('form uploads are not used by Baton');
        body = JSON.stringify(Object.fromEntries(Object.entries(options.body).map(([key, value]) => [snakeCase(key), value])));
        headers['content-type'] = 'application/json';
      }
      const response = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const parsed = response.status === 204 ? null : await readBody(response);
      if (!response.ok) throw new ProviderHttpError(response.status, response.headers, gitLabMessage(parsed), parsed);
      return { body: parsed, headers: Object.fromEntries(response.headers), status: response.status } as never;
    };
    return {
      get: (endpoint, options) => send('GET', endpoint, options),
      post: (endpoint, options) => send('POST', endpoint, options),
      put: (endpoint, options) => send('PUT', endpoint, options),
      patch: (endpoint, options) => send('PATCH', endpoint, options),
      delete: (endpoint, options) => send('DELETE', endpoint, options),
    };
  };
}

interface GitLabMergeRequest {
  iid: number;
  web_url: string;
  title: string;
  description?: string | null;
  state: string;
  source_branch: string;
  target_branch: string;
  source_project_id: number;
  target_project_id: number;
}

function toOpen(mr: GitLabMergeRequest): OpenPullRequest {
  return { number: mr.iid, url: mr.web_url, title: mr.title, body: mr.description ?? '' };
}

export function createGitLabProvider(options: PullRequestProviderOptions = {}): PullRequestProvider {
  const fetch = providerFetch(options);
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
  return {
    name: GITLAB,
    async findOrCreate(request: PullRequestRequest) {
      const { apiUrl, projectPath } = parseGitLabRepository(request.repositoryUrl);
      const root = apiRoot(request.repositoryUrl, GITLAB, apiUrl, options);
      if (!root.endsWith(API_SUFFIX)) {
        throw invalidRepositoryUrl(
          request.repositoryUrl,
          GITLAB,
          `is configured with the API root ${root}, which does not end in ${API_SUFFIX}`,
        );
      }
      const ctx: FailureContext = {
        provider: GITLAB,
        repository: repositoryLabel(request.repositoryUrl),
        token: request.token,
        ...(options.now ? { now: options.now } : {}),
      };
      const api = new MergeRequests({
        host: root.slice(0, -API_SUFFIX.length),
        oauthToken: request.token,
        requesterFn: fetchRequester(fetch, userAgent),
        queryTimeout: null,
        rateLimits: {},
      });

      const call = async <T>(action: string, run: () => Promise<T>): Promise<T> => {
        try {
          return await run();
        } catch (error) {
          if (error instanceof ProviderHttpError) {
            throw httpFailure({ status: error.status, header: headerLookup(error.headers), detail: error.detail }, ctx, action);
          }
          throw networkFailure(error, ctx, action);
        }
      };

      const matches = (mr: GitLabMergeRequest) =>
        mr.state === 'opened' &&
        mr.source_branch === request.headBranch &&
        mr.target_branch === request.baseBranch &&
        // A fork's branch of the same name is someone else's merge request.
        mr.source_project_id === mr.target_project_id;

      return findOrCreate(
        request,
        {
          findOpen: () =>
            call('listing open merge requests', async () => {
              // Offset pagination, following X-Next-Page (empty on the last page).
              let page: number | null = 1;
              for (let seen = 0; page !== null && seen < MAX_LIST_PAGES; seen += 1) {
                const answer: { data: unknown[]; paginationInfo: { next: number | null } } = await api.all({
                  projectId: projectPath,
                  state: 'opened',
                  sourceBranch: request.headBranch,
                  targetBranch: request.baseBranch,
                  perPage: 100,
                  page,
                  showExpanded: true,
                });
                const found = (answer.data as unknown as GitLabMergeRequest[]).find(matches);
                if (found) return toOpen(found);
                page = answer.paginationInfo.next;
              }
              return undefined;
            }),
          create: async (): Promise<CreateOutcome> => {
            try {
              const created = await api.create(projectPath, request.headBranch, request.baseBranch, request.title, {
                description: request.body,
              });
              return { created: toOpen(created) };
            } catch (error) {
              // 409 {"message":["Another open merge request already exists for this source branch: !7"]}
              if (error instanceof ProviderHttpError && error.status === 409) return { duplicate: error.detail || 'HTTP 409' };
              return call('opening the merge request', () => Promise.reject(error as Error));
            }
          },
          update: (mr) =>
            call(`updating merge request !${mr.number}`, async () => {
              const updated = await api.edit(projectPath, mr.number, { title: request.title, description: request.body });
              return toOpen(updated);
            }),
        },
        ctx,
      );
    },
  };
}
