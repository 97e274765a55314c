/**
 * Bitbucket Server / Data Center pull requests through its REST 1.0 API, with Baton's HTTP client.
 * Project key and slug come from `https://<host>[/<context>]/scm/KEY/repo.git` or
 * `.../projects/KEY/repos/repo[/...]` (personal: `/scm/~user/repo.git`, `/users/user/repos/repo`);
 * the token is sent as `Authorization: Bearer`.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../model/failures.js';
import { guarded, invalidRepositoryUrl, toFailure } from './failures.js';
import { ProviderHttpError, readBody } from './http-error.js';
import type { CreateOutcome, OpenPullRequest, ProviderClientFactory, PullRequestProvider, PullRequestProviderOptions } from './provider.js';
import { cachedProvider, DEFAULT_USER_AGENT, failureContext, providerHttp } from './provider-factory.js';
import { isoFromEpochMs, optional } from './pull-request-status.js';
import { apiRoot, repositoryPath } from './repository-url.js';

export const BITBUCKET_SERVER = 'bitbucket-server';
const MAX_LIST_PAGES = 50;
const PAGE_SIZE = 100;

export interface BitbucketServerRepository {
  /** `https://<host>[/<context>]/rest/api/1.0`. */
  apiUrl: string;
  /** `PROJ`, or `~user` for a personal repository. */
  projectKey: string;
  slug: string;
}

export function parseBitbucketServerRepository(repositoryUrl: string): BitbucketServerRepository {
  const { origin, segments } = repositoryPath(repositoryUrl, BITBUCKET_SERVER);
  const result = (context: string[], projectKey: string | undefined, slug: string | undefined) => {
    if (!projectKey || !slug) return undefined;
    const prefix = context.length > 0 ? `/${context.map(encodeURIComponent).join('/')}` : '';
    return { apiUrl: `${origin}${prefix}/rest/api/1.0`, projectKey, slug };
  };
  // The last match wins, so a context path that happens to contain "scm" does not confuse it.
  for (let i = segments.length - 1; i >= 0; i -= 1) {
    const segment = segments[i];
    if (segment === 'scm' && i + 3 === segments.length) {
      const parsed = result(segments.slice(0, i), segments[i + 1], segments[i + 2]);
      if (parsed) return parsed;
    }
    if ((segment === 'projects' || segment === 'users') && segments[i + 2] === 'repos' && i + 3 < segments.length) {
      const key = segment === 'users' ? `~${segments[i + 1] ?? ''}` : segments[i + 1];
      const parsed = result(segments.slice(0, i), key, segments[i + 3]);
      if (parsed) return parsed;
    }
  }
  throw invalidRepositoryUrl(
    repositoryUrl,
    BITBUCKET_SERVER,
    'is neither https://<host>/scm/<KEY>/<repo>.git nor https://<host>/projects/<KEY>/repos/<repo>',
  );
}

interface BitbucketRef {
  id: string;
  repository?: { slug?: string; project?: { key?: string } };
}

interface BitbucketPullRequest {
  id: number;
  version: number;
  title: string;
  description?: string;
  state: string;
  /** Epoch milliseconds, once merged or declined. */
  closedDate?: number;
  fromRef: BitbucketRef;
  toRef: BitbucketRef;
  links?: { self?: { href: string }[] };
}

/** An entry of a pull request's activities: who merged, declined or reopened it, and when. */
interface BitbucketActivity {
  action: string;
  createdDate?: number;
  user?: { name?: string; slug?: string };
}

interface BitbucketPage<T> {
  values: T[];
  isLastPage: boolean;
  nextPageStart?: number;
}

interface BitbucketError {
  message?: string;
  exceptionName?: string;
  existingPullRequest?: BitbucketPullRequest;
  pullRequest?: BitbucketPullRequest;
}

function errorsOf(body: unknown): BitbucketError[] {
  const errors = typeof body === 'object' && body !== null ? (body as { errors?: unknown }).errors : undefined;
  return Array.isArray(errors) ? (errors as BitbucketError[]) : [];
}

/** Bitbucket's `{errors: [{message, exceptionName}]}` as one line. */
export function bitbucketMessage(body: unknown): string {
  if (typeof body === 'string') return body;
  return errorsOf(body)
    .map((e) => e.message ?? e.exceptionName ?? '')
    .filter(Boolean)
    .join('; ');
}

function hasException(error: unknown, name: string): error is ProviderHttpError {
  return (
    error instanceof ProviderHttpError &&
    errorsOf(error.body).some((e) => e.exceptionName?.endsWith(`.${name}`) || e.exceptionName === name)
  );
}

const branchRef = (branch: string) => `refs/heads/${branch}`;

export const createBitbucketServerClient: ProviderClientFactory = (repositoryUrl, credentials, options) => {
  const repository = parseBitbucketServerRepository(repositoryUrl);
  const root = apiRoot(repositoryUrl, BITBUCKET_SERVER, repository.apiUrl, options);
  const { projectKey, slug } = repository;
  const pullRequests = `${root}/projects/${encodeURIComponent(projectKey)}/repos/${encodeURIComponent(slug)}/pull-requests`;
  const context = failureContext(BITBUCKET_SERVER, repositoryUrl, credentials, options);
  const http = providerHttp(credentials, options);
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;

  const send = async <T>(method: string, url: string, body?: unknown): Promise<T> => {
    const response = await http.fetch(url, {
      method,
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${credentials.token}`,
        'user-agent': userAgent,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const parsed = await readBody(response);
    if (!response.ok) throw new ProviderHttpError(response.status, response.headers, bitbucketMessage(parsed), parsed);
    return parsed as T;
  };

  const sameRepository = (ref: BitbucketRef) =>
    ref.repository?.slug?.toLowerCase() === slug.toLowerCase() && ref.repository.project?.key?.toLowerCase() === projectKey.toLowerCase();
  const matcher =
    ({ headBranch, baseBranch }: { headBranch: string; baseBranch: string }) =>
    (pr: BitbucketPullRequest) =>
      pr.state === 'OPEN' && pr.fromRef.id === branchRef(headBranch) && pr.toRef.id === branchRef(baseBranch) && sameRepository(pr.fromRef);
  const toOpen = (pr: BitbucketPullRequest): OpenPullRequest => ({
    number: pr.id,
    url: pr.links?.self?.[0]?.href ?? `${pullRequests}/${pr.id}`,
    title: pr.title,
    body: pr.description ?? '',
    version: pr.version,
  });
  const repositoryRef = { slug, project: { key: projectKey } };

  return {
    context,
    findOpen: (branches) =>
      guarded(context, 'listing open pull requests', async () => {
        const matches = matcher(branches);
        // The list filters by source branch (`at` + OUTGOING), not by target: filter here,
        // paging with start/nextPageStart until isLastPage.
        let start: number | undefined = 0;
        for (let seen = 0; start !== undefined && seen < MAX_LIST_PAGES; seen += 1) {
          const query: URLSearchParams = new URLSearchParams({
            state: 'OPEN',
            direction: 'OUTGOING',
            at: branchRef(branches.headBranch),
            order: 'NEWEST',
            limit: String(PAGE_SIZE),
            start: String(start),
          });
          const page: BitbucketPage<BitbucketPullRequest> = await send<BitbucketPage<BitbucketPullRequest>>(
            'GET',
            `${pullRequests}?${query.toString()}`,
          );
          const found = page.values.find(matches);
          if (found) return toOpen(found);
          start = page.isLastPage ? undefined : page.nextPageStart;
        }
        return undefined;
      }),
    async create(change): Promise<CreateOutcome> {
      try {
        const created = await send<BitbucketPullRequest>('POST', pullRequests, {
          title: change.title,
          description: change.body,
          state: 'OPEN',
          open: true,
          closed: false,
          locked: false,
          fromRef: { id: branchRef(change.headBranch), repository: repositoryRef },
          toRef: { id: branchRef(change.baseBranch), repository: repositoryRef },
        });
        return { created: toOpen(created) };
      } catch (error) {
        // 409 com.atlassian.bitbucket.pull.DuplicatePullRequestException, naming the open one.
        if (hasException(error, 'DuplicatePullRequestException')) {
          const existing = errorsOf(error.body).find((e) => e.existingPullRequest)?.existingPullRequest;
          return { duplicate: error.detail, ...(existing && matcher(change)(existing) ? { existing: toOpen(existing) } : {}) };
        }
        throw toFailure(error, context, 'opening the pull request');
      }
    },
    update: (pr, change) =>
      guarded(context, `updating pull request #${pr.number}`, async () => {
        const put = (version: number | undefined) =>
          send<BitbucketPullRequest>('PUT', `${pullRequests}/${pr.number}`, { version, title: change.title, description: change.body });
        try {
          return toOpen(await put(pr.version));
        } catch (error) {
          // 409 PullRequestOutOfDateException: someone edited it since it was read.
          if (!hasException(error, 'PullRequestOutOfDateException')) throw error;
          const current = await send<BitbucketPullRequest>('GET', `${pullRequests}/${pr.number}`);
          try {
            return toOpen(await put(current.version));
          } catch (again) {
            if (!hasException(again, 'PullRequestOutOfDateException')) throw again;
            throw ApplicationFailure.create({
              type: FailureType.providerUnavailable,
              message: `pull request #${pr.number} of ${context.repository} kept changing while Baton updated it; retrying`,
              nonRetryable: false,
              details: [{ provider: BITBUCKET_SERVER, repository: context.repository, status: 409 }],
            });
          }
        }
      }),
    status: (id) =>
      guarded(context, `reading pull request #${id}`, async () => {
        const pr = await send<BitbucketPullRequest>('GET', `${pullRequests}/${id}`);
        if (pr.state !== 'MERGED' && pr.state !== 'DECLINED') return { state: 'open' };
        // The pull request does not say who merged or declined it; its activities (newest first) do.
        const activities = await send<BitbucketPage<BitbucketActivity>>('GET', `${pullRequests}/${id}/activities?limit=${PAGE_SIZE}`);
        const ending = activities.values.find((a) => a.action === pr.state);
        const who = ending?.user?.name ?? ending?.user?.slug;
        const when = isoFromEpochMs(pr.closedDate) ?? isoFromEpochMs(ending?.createdDate);
        return pr.state === 'MERGED'
          ? { state: 'merged', ...optional('mergedBy', who), ...optional('mergedAt', when) }
          : { state: 'closed', ...optional('closedBy', who), ...optional('closedAt', when) };
      }),
    close: () => http.close(),
  };
};

export function createBitbucketServerProvider(options: PullRequestProviderOptions = {}): PullRequestProvider {
  return cachedProvider(BITBUCKET_SERVER, createBitbucketServerClient, options);
}
