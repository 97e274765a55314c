/**
 * GitHub and GitHub Enterprise Server pull requests through `@octokit/rest`.
 *
 * API root: `https://api.github.com` for github.com, `https://api.<host>` for GHE.com (data
 * residency), `https://<host>/api/v3` for an Enterprise Server; owner and repository come from
 * `https://<host>/<owner>/<repo>[.git]`. Octokit is used without its retry or throttling plugins:
 * Temporal retries, and GitHub's rate-limit answers become the next retry delay.
 */
import { Octokit } from '@octokit/rest';
import { DEFAULT_USER_AGENT, providerFetch } from './http.js';
import { type FailureContext, headerLookup, httpFailure, invalidRepositoryUrl, networkFailure, repositoryLabel } from './failures.js';
import { type CreateOutcome, findOrCreate } from './find-or-create.js';
import type { OpenPullRequest, PullRequestProvider, PullRequestProviderOptions, PullRequestRequest } from './provider.js';
import { apiRoot, repositoryPath } from './repository-url.js';

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

/** Octokit's `RequestError`, recognised by shape (the class lives in a transitive package). */
interface OctokitError {
  status: number;
  response?: { headers: Record<string, string | number | undefined>; data: unknown };
}

function isOctokitError(error: unknown): error is OctokitError {
  return error instanceof Error && typeof (error as { status?: unknown }).status === 'number';
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

export function createGitHubProvider(options: PullRequestProviderOptions = {}): PullRequestProvider {
  const fetch = providerFetch(options);
  return {
    name: GITHUB,
    async findOrCreate(request: PullRequestRequest) {
      const parsed = parseGitHubRepository(request.repositoryUrl);
      const baseUrl = apiRoot(request.repositoryUrl, GITHUB, parsed.apiUrl, options);
      const { owner, repo } = parsed;
      const ctx: FailureContext = {
        provider: GITHUB,
        repository: repositoryLabel(request.repositoryUrl),
        token: request.token,
        ...(options.now ? { now: options.now } : {}),
      };
      const silent = () => undefined;
      const octokit = new Octokit({
        auth: request.token,
        baseUrl,
        userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
        request: { fetch },
        log: { debug: silent, info: silent, warn: silent, error: silent },
      });

      const call = async <T>(action: string, run: () => Promise<T>): Promise<T> => {
        try {
          return await run();
        } catch (error) {
          if (isOctokitError(error) && error.response) {
            const answer = {
              status: error.status,
              header: headerLookup(error.response.headers),
              detail: gitHubMessage(error.response.data),
            };
            throw httpFailure(answer, ctx, action);
          }
          throw networkFailure(error, ctx, action);
        }
      };

      const matches = (pull: GitHubPull) =>
        pull.state === 'open' &&
        pull.head.ref === request.headBranch &&
        pull.base.ref === request.baseBranch &&
        // A fork's branch of the same name is someone else's pull request.
        pull.head.repo?.full_name.toLowerCase() === `${owner}/${repo}`.toLowerCase();

      return findOrCreate(
        request,
        {
          findOpen: () =>
            call('listing open pull requests', async () => {
              const pages = octokit.paginate.iterator(octokit.rest.pulls.list, {
                owner,
                repo,
                state: 'open',
                head: `${owner}:${request.headBranch}`,
                base: request.baseBranch,
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
          create: async (): Promise<CreateOutcome> => {
            try {
              const { data } = await octokit.rest.pulls.create({
                owner,
                repo,
                title: request.title,
                body: request.body,
                head: request.headBranch,
                base: request.baseBranch,
              });
              return { created: toOpen(data) };
            } catch (error) {
              // 422 "Validation Failed: A pull request already exists for owner:branch."
              const detail = isOctokitError(error) ? gitHubMessage(error.response?.data) : '';
              if (isOctokitError(error) && error.status === 422 && /pull request already exists/i.test(detail)) {
                return { duplicate: detail };
              }
              return call('opening the pull request', () => Promise.reject(error as Error));
            }
          },
          update: (pull) =>
            call(`updating pull request #${pull.number}`, async () => {
              const { data } = await octokit.rest.pulls.update({
                owner,
                repo,
                pull_number: pull.number,
                title: request.title,
                body: request.body,
              });
              return toOpen(data);
            }),
        },
        ctx,
      );
    },
  };
}
