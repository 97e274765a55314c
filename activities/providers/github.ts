/**
 * GitHub and GitHub Enterprise Server pull requests through `@octokit/rest`, without its retry or
 * throttling plugins: Temporal retries, and GitHub's rate-limit answers become the next retry delay.
 * API root: `https://api.github.com` for github.com, `https://api.<host>` for GHE.com,
 * `https://<host>/api/v3` for an Enterprise Server.
 */
import { Octokit } from '@octokit/rest';
import { guarded, invalidRepositoryUrl, toFailure } from './failures.js';
import { ProviderHttpError } from './http-error.js';
import type { CreateOutcome, OpenPullRequest, ProviderClientFactory, PullRequestProviderOptions, PullRequestProvider } from './provider.js';
import { cachedProvider, DEFAULT_USER_AGENT, failureContext, providerHttp } from './provider-factory.js';
import { apiRoot, repositoryPath } from './repository-url.js';
import { optional } from './pull-request-status.js';

export const GITHUB = 'github';
/** Pages of 100 open pull requests looked through before concluding there is none. */
const MAX_LIST_PAGES = 50;

export interface GitHubRepository {
  /** The API root derived from the URL. */
  apiUrl: string;
  owner: string;
  repo: string;
}

export function parseGitHubRepository(repositoryUrl: string): GitHubRepository {
  const { origin, host, protocol, segments } = repositoryPath(repositoryUrl, GITHUB);
  const [owner, repo] = segments;
  if (segments.length !== 2 || !owner || !repo) {
    throw invalidRepositoryUrl(repositoryUrl, GITHUB, 'is not https://<host>/<owner>/<repository>');
  }
  const hostname = host.toLowerCase();
  let apiUrl: string;
  if (hostname === 'github.com' || hostname === 'www.github.com') apiUrl = 'https://api.github.com';
  else if (hostname.endsWith('.ghe.com')) apiUrl = `${protocol}//api.${host}`;
  else apiUrl = `${origin}/api/v3`;
  return { apiUrl, owner, repo };
}

interface GitHubPull {
  number: number;
  html_url: string;
  title: string;
  body?: string | null;
  state: string;
  head: { ref: string; repo: { full_name: string } | null };
  base: { ref: string };
}

/** Octokit's `RequestError` with an answer, recognised by shape (the class lives in a transitive package). */
function octokitAnswer(error: unknown): ProviderHttpError | undefined {
  if (!(error instanceof Error)) return undefined;
  const { status, response } = error as {
    status?: unknown;
    response?: { headers: Record<string, string | number | undefined>; data: unknown };
  };
  if (typeof status !== 'number' || response === undefined) return undefined;
  return new ProviderHttpError(status, response.headers, gitHubMessage(response.data), response.data);
}

/** GitHub's `{message, errors: [{message|code|field}]}` as one line. */
export function gitHubMessage(data: unknown): string {
  if (typeof data === 'string') return data;
  if (typeof data !== 'object' || data === null) return '';
  const { message, errors } = data as { message?: unknown; errors?: unknown };
  const parts = Array.isArray(errors)
    ? errors.map((e: unknown) => {
        if (typeof e === 'string') return e;
        const { message: m, code, field } = (e ?? {}) as { message?: unknown; code?: unknown; field?: unknown };
        return typeof m === 'string' ? m : [field, code].filter((x) => typeof x === 'string').join(' ');
      })
    : [];
  return [typeof message === 'string' ? message : '', ...parts].filter(Boolean).join(': ');
}

function toOpen(pull: GitHubPull): OpenPullRequest {
  return { number: pull.number, url: pull.html_url, title: pull.title, body: pull.body ?? '' };
}

export const createGitHubClient: ProviderClientFactory = (repositoryUrl, credentials, options) => {
  const parsed = parseGitHubRepository(repositoryUrl);
  const baseUrl = apiRoot(repositoryUrl, GITHUB, parsed.apiUrl, options);
  const { owner, repo } = parsed;
  const context = failureContext(GITHUB, repositoryUrl, credentials, options);
  const http = providerHttp(credentials, options);
  const silent = () => undefined;
  const octokit = new Octokit({
    auth: credentials.token,
    baseUrl,
    userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
    request: { fetch: http.fetch },
    log: { debug: silent, info: silent, warn: silent, error: silent },
  });
  const call = <T>(action: string, run: () => Promise<T>): Promise<T> =>
    guarded(context, action, async () => {
      try {
        return await run();
      } catch (error) {
        throw octokitAnswer(error) ?? error;
      }
    });

  return {
    context,
    findOpen: ({ headBranch, baseBranch }) =>
      call('listing open pull requests', async () => {
        const matches = (pull: GitHubPull) =>
          pull.state === 'open' &&
          pull.head.ref === headBranch &&
          pull.base.ref === baseBranch &&
          // A fork's branch of the same name is someone else's pull request.
          pull.head.repo?.full_name.toLowerCase() === `${owner}/${repo}`.toLowerCase();
        const pages = octokit.paginate.iterator(octokit.rest.pulls.list, {
          owner,
          repo,
          state: 'open',
          head: `${owner}:${headBranch}`,
          base: baseBranch,
          per_page: 100,
        });
        let seen = 0;
        for await (const page of pages) {
          const found = (page.data as GitHubPull[]).find(matches);
          if (found) return toOpen(found);
          if (++seen >= MAX_LIST_PAGES) break;
        }
        return undefined;
      }),
    async create(change): Promise<CreateOutcome> {
      try {
        const { data } = await octokit.rest.pulls.create({
          owner,
          repo,
          title: change.title,
          body: change.body,
          head: change.headBranch,
          base: change.baseBranch,
        });
        return { created: toOpen(data) };
      } catch (error) {
        // 422 "Validation Failed: A pull request already exists for owner:branch."
        const answer = octokitAnswer(error);
        if (answer?.status === 422 && /pull request already exists/i.test(answer.detail)) return { duplicate: answer.detail };
        throw toFailure(answer ?? error, context, 'opening the pull request');
      }
    },
    update: (pull, change) =>
      call(`updating pull request #${pull.number}`, async () => {
        const { data } = await octokit.rest.pulls.update({
          owner,
          repo,
          pull_number: pull.number,
          title: change.title,
          body: change.body,
        });
        return toOpen(data);
      }),
    status: (number) =>
      call(`reading pull request #${number}`, async () => {
        const { data } = await octokit.rest.pulls.get({ owner, repo, pull_number: number });
        if (data.merged) {
          return {
            state: 'merged',
            ...optional('mergedBy', data.merged_by?.login),
            ...optional('mergedAt', data.merged_at),
          };
        }
        if (data.state === 'open') return { state: 'open' };
        // The pulls API does not say who closed a pull request; its issue does.
        const { data: issue } = await octokit.rest.issues.get({ owner, repo, issue_number: number });
        return {
          state: 'closed',
          ...optional('closedBy', issue.closed_by?.login),
          ...optional('closedAt', data.closed_at ?? issue.closed_at),
        };
      }),
    close: () => http.close(),
  };
};

export function createGitHubProvider(options: PullRequestProviderOptions = {}): PullRequestProvider {
  return cachedProvider(GITHUB, createGitHubClient, options);
}
