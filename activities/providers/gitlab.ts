/**
 * GitLab (gitlab.com and self-managed) merge requests through `@gitbeaker/rest`. The project is the
 * URL's whole path (`group/subgroup/project`); a web URL's `/-/...` tail is ignored. The token is
 * sent as `Authorization: Bearer`, which personal, project, group and OAuth tokens all accept.
 */
import { MergeRequests } from '@gitbeaker/rest';
import { createRequesterFn, type FormattedResponse, type RequestOptions } from '@gitbeaker/requester-utils';
import type { Fetch } from '../http/client.js';
import { guarded, invalidRepositoryUrl, toFailure } from './failures.js';
import { ProviderHttpError, readBody } from './http-error.js';
import type { CreateOutcome, OpenPullRequest, ProviderClientFactory, PullRequestProvider, PullRequestProviderOptions } from './provider.js';
import { cachedProvider, DEFAULT_USER_AGENT, failureContext, providerHttp } from './provider-factory.js';
import { optional } from './pull-request-status.js';
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

/**
 * Gitbeaker's own requester, built the documented way (`createRequesterFn` with its default options
 * handler), with a request handler of Baton's. Gitbeaker's handler cannot be used: it retries 429
 * and 502 ten times within about a quarter of a second and then throws without the answer's
 * headers (so `Retry-After` is lost), and it sends through the global fetch, which follows
 * redirects to any origin. This one makes exactly one request through Baton's HTTP client.
 */
export function gitLabRequester(fetch: Fetch, userAgent: string) {
  return createRequesterFn(
    (_, options) => Promise.resolve(options),
    async (endpoint: string, options?: Record<string, unknown>): Promise<FormattedResponse> => {
      const { method = 'GET', headers = {}, body, searchParams, prefixUrl, signal } = (options ?? {}) as RequestOptions;
      const url = new URL(endpoint, prefixUrl?.endsWith('/') ? prefixUrl : `${prefixUrl ?? ''}/`);
      if (searchParams) url.search = searchParams;
      if (body !== undefined && typeof body !== 'string') throw new TypeError('form uploads are not used by Baton');
      const response = await fetch(url, {
        method,
        headers: { ...headers, accept: 'application/json', 'user-agent': userAgent },
        ...(body === undefined ? {} : { body }),
        ...(signal ? { signal } : {}),
      });
      const parsed = response.status === 204 ? null : await readBody(response);
      if (!response.ok) throw new ProviderHttpError(response.status, response.headers, gitLabMessage(parsed), parsed);
      return { body: parsed as FormattedResponse['body'], headers: Object.fromEntries(response.headers), status: response.status };
    },
  );
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

/** What `GET /projects/:id/merge_requests/:iid` says of how the merge request ended. */
interface GitLabMergeRequestOutcome {
  state: string;
  /** Deprecated in GitLab 14.7 in favour of `merge_user`; older instances send only this. */
  merged_by?: { username?: string } | null;
  merge_user?: { username?: string } | null;
  merged_at?: string | null;
  closed_by?: { username?: string } | null;
  closed_at?: string | null;
}

function toOpen(mr: GitLabMergeRequest): OpenPullRequest {
  return { number: mr.iid, url: mr.web_url, title: mr.title, body: mr.description ?? '' };
}

export const createGitLabClient: ProviderClientFactory = (repositoryUrl, credentials, options) => {
  const { apiUrl, projectPath } = parseGitLabRepository(repositoryUrl);
  const root = apiRoot(repositoryUrl, GITLAB, apiUrl, options);
  if (!root.endsWith(API_SUFFIX)) {
    throw invalidRepositoryUrl(repositoryUrl, GITLAB, `is configured with an API root that does not end in ${API_SUFFIX}`);
  }
  const context = failureContext(GITLAB, repositoryUrl, credentials, options);
  const http = providerHttp(credentials, options);
  const api = new MergeRequests({
    host: root.slice(0, -API_SUFFIX.length),
    oauthToken: credentials.token,
    requesterFn: gitLabRequester(http.fetch, options.userAgent ?? DEFAULT_USER_AGENT),
    queryTimeout: null,
    rateLimits: {},
  });

  return {
    context,
    findOpen: ({ headBranch, baseBranch }) =>
      guarded(context, 'listing open merge requests', async () => {
        const matches = (mr: GitLabMergeRequest) =>
          mr.state === 'opened' &&
          mr.source_branch === headBranch &&
          mr.target_branch === baseBranch &&
          // A fork's branch of the same name is someone else's merge request.
          mr.source_project_id === mr.target_project_id;
        // Offset pagination, following X-Next-Page (empty on the last page).
        let page: number | null = 1;
        for (let seen = 0; page !== null && seen < MAX_LIST_PAGES; seen += 1) {
          const answer: { data: unknown[]; paginationInfo: { next: number | null } } = await api.all({
            projectId: projectPath,
            state: 'opened',
            sourceBranch: headBranch,
            targetBranch: baseBranch,
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
    async create(change): Promise<CreateOutcome> {
      try {
        const created = await api.create(projectPath, change.headBranch, change.baseBranch, change.title, { description: change.body });
        return { created: toOpen(created) };
      } catch (error) {
        // 409 {"message":["Another open merge request already exists for this source branch: !7"]}
        if (error instanceof ProviderHttpError && error.status === 409) return { duplicate: error.detail || 'HTTP 409' };
        throw toFailure(error, context, 'opening the merge request');
      }
    },
    update: (mr, change) =>
      guarded(context, `updating merge request !${mr.number}`, async () =>
        toOpen(await api.edit(projectPath, mr.number, { title: change.title, description: change.body })),
      ),
    status: (iid) =>
      guarded(context, `reading merge request !${iid}`, async () => {
        const mr = (await api.show(projectPath, iid)) as unknown as GitLabMergeRequestOutcome;
        if (mr.state === 'merged') {
          return {
            state: 'merged',
            ...optional('mergedBy', mr.merge_user?.username ?? mr.merged_by?.username),
            ...optional('mergedAt', mr.merged_at),
          };
        }
        if (mr.state === 'closed') {
          return { state: 'closed', ...optional('closedBy', mr.closed_by?.username), ...optional('closedAt', mr.closed_at) };
        }
        // `opened`, or `locked` for the moment a merge is under way: not decided yet.
        return { state: 'open' };
      }),
    close: () => http.close(),
  };
};

export function createGitLabProvider(options: PullRequestProviderOptions = {}): PullRequestProvider {
  return cachedProvider(GITLAB, createGitLabClient, options);
}
