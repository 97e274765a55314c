/**
 * The git providers' pull-request API behind one interface. A provider opens or refreshes the pull
 * request (the git step pushes the branch) and says what became of it; each is a `ProviderClient`
 * built once per repository and credentials, and `findOrCreate` makes every call idempotent.
 */
import type { HostAllowlist } from '../http/host-allowlist.js';
import type { Fetch } from '../http/client.js';
import type { PullRequestStatus } from '../../model/promotion.js';
import type { FailureContext } from './failures.js';

/** The credentials a client is built with: the Secret's `token` and optional `caFile`. */
export interface ProviderCredentials {
  /** Used only as a credential: never in messages, logs or results. */
  token: string;
  /** PEM certificates trusted besides the system's. */
  ca?: string | Buffer;
}

export interface PullRequestRequest extends ProviderCredentials {
  /** The Pipeline's `spec...pull-request.url`, e.g. `https://github.com/org/repo` or `.../scm/KEY/repo.git`. */
  repositoryUrl: string;
  baseBranch: string;
  /** The promotion branch, `promotion-<ns>-<name>-<env>`. */
  headBranch: string;
  title: string;
  body: string;
}

/** Which pull request to ask about, and the credentials to ask with. */
export interface PullRequestStatusQuery extends ProviderCredentials {
  repositoryUrl: string;
  number: number;
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

/** What a pull request is opened from and into, and what it says. */
export type PullRequestChange = Pick<PullRequestRequest, 'headBranch' | 'baseBranch' | 'title' | 'body'>;

/** An open pull request as every provider describes it. */
export interface OpenPullRequest {
  number: number;
  url: string;
  title: string;
  body: string;
  /** Bitbucket Server's optimistic-locking version, which an update must quote. */
  version?: number;
}

export type CreateOutcome =
  | { created: OpenPullRequest }
  /** The provider refused a duplicate; `existing` when its answer names the PR (Bitbucket Server). */
  | { duplicate: string; existing?: OpenPullRequest };

/** One repository on one provider, with one set of credentials. Methods throw `ApplicationFailure`s. */
export interface ProviderClient {
  readonly context: FailureContext;
  findOpen(branches: Pick<PullRequestChange, 'headBranch' | 'baseBranch'>): Promise<OpenPullRequest | undefined>;
  create(change: PullRequestChange): Promise<CreateOutcome>;
  update(pullRequest: OpenPullRequest, change: PullRequestChange): Promise<OpenPullRequest>;
  /** Open, merged or closed without merging, with who and when as the provider records them. */
  status(number: number): Promise<PullRequestStatus>;
  close(): Promise<void>;
}

export interface PullRequestProvider {
  /** `github`, `gitlab` or `bitbucket-server`: the name the Pipeline's `type` uses. */
  readonly name: string;
  findOrCreate(request: PullRequestRequest): Promise<PullRequestResult>;
  status(query: PullRequestStatusQuery): Promise<PullRequestStatus>;
  /** Closes every cached client's connections. */
  close(): Promise<void>;
}

export interface PullRequestProviderOptions {
  /**
   * The provider's API root, instead of the one derived from the repository URL: GitHub
   * `https://api.github.com` or `https://<host>/api/v3`, GitLab `https://<host>/api/v4`, Bitbucket
   * Server `https://<host>[/<context>]/rest/api/1.0`. For tests, proxies, and GitLab or Bitbucket
   * installed under a path the repository URL does not reveal.
   */
  baseUrl?: string;
  /** Sent as `User-Agent` (default `baton`); GitHub requires one. */
  userAgent?: string;
  /** Replaces the HTTP client (tests); `ca` is then the replacement's business. */
  fetch?: Fetch;
  /** Bound on each API request (default 30 s). */
  timeoutMs?: number;
  /** Allow an `http://` API root, which would send the token in clear text (loopback tests only). */
  allowInsecureHttp?: boolean;
  /** The git hosts a repository URL may name (`BATON_GIT_HOSTS`); default any. */
  allowedHosts?: HostAllowlist;
  /** How many clients (repository × credentials) are kept; the least recently used is closed. */
  maxClients?: number;
  /** The clock `Retry-After` dates and rate-limit reset times are measured against. */
  now?: () => Date;
}

/** Builds the client of one repository; the provider caches what it returns. */
export type ProviderClientFactory = (
  repositoryUrl: string,
  credentials: ProviderCredentials,
  options: PullRequestProviderOptions,
) => ProviderClient;
