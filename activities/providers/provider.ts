/**
 * The git providers' pull-request API behind one interface (DESIGN.md §3.5): GitHub, GitLab and
 * Bitbucket Server each live in their own file and are picked from the explicit map in `index.ts`.
 *
 * A provider only opens or refreshes the pull request; cloning, patching and pushing the promotion
 * branch is the git side's job. Every call is idempotent: it looks for the open PR from
 * `headBranch` into `baseBranch` first and updates that one instead of opening a second.
 */

export interface PullRequestRequest {
  /** The Pipeline's `spec...pull-request.url`, e.g. `https://github.com/org/repo` or `.../scm/KEY/repo.git`. */
  repositoryUrl: string;
  baseBranch: string;
  /** The promotion branch, `promotion-<ns>-<name>-<env>`. */
  headBranch: string;
  title: string;
  body: string;
  /** The Secret's `token`. Used only as a credential: never in messages, logs or results. */
  token: string;
}

export interface PullRequestResult {
  /** GitHub's PR number, GitLab's merge request IID, Bitbucket Server's pull request ID. */
  number: number;
  /** The page a human opens. */
  url: string;
  /** True when this call opened the PR; false when it reused the open one. */
  created: boolean;
  /** True when a reused PR's title or body had to be rewritten. */
  updated: boolean;
}

export interface PullRequestProvider {
  /** `github`, `gitlab` or `bitbucket-server`: the name the Pipeline's `type` uses. */
  readonly name: string;
  findOrCreate(request: PullRequestRequest): Promise<PullRequestResult>;
}

/** An open pull request as every provider describes it, for the shared find-or-create logic. */
export interface OpenPullRequest {
  number: number;
  url: string;
  title: string;
  body: string;
  /** Bitbucket Server's optimistic-locking version, which an update must quote. */
  version?: number;
}

export interface PullRequestProviderOptions {
  /**
   * The provider's API root, instead of the one derived from the repository URL: GitHub
   * `https://api.github.com` or `https://<host>/api/v3`, GitLab `https://<host>/api/v4`, Bitbucket
   * Server `https://<host>[/<context>]/rest/api/1.0`. For tests, proxies, and GitLab or Bitbucket
   * installed under a path the repository URL does not reveal.
   */
  baseUrl?: string;
  /** PEM certificates trusted for the API (the Secret's `caFile`). */
  ca?: string | Buffer;
  /** Sent as `User-Agent` (default `baton`); GitHub requires one. */
  userAgent?: string;
  /** Replaces the HTTP client (tests). */
  fetch?: typeof globalThis.fetch;
  /** Bound on each API request (default 30 s). */
  timeoutMs?: number;
  /** Allow an `http://` API root, which would send the token in clear text (loopback tests only). */
  allowInsecureHttp?: boolean;
  /** The clock `Retry-After` dates and rate-limit reset times are measured against. */
  now?: () => Date;
}

export type PullRequestProviderFactory = (options?: PullRequestProviderOptions) => PullRequestProvider;
