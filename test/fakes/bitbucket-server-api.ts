/**
 * Bitbucket Server REST 1.0 pull requests as Baton uses them, on loopback, optionally under a context
 * path: paged list (`isLastPage`/`nextPageStart`), create (409 `DuplicatePullRequestException`),
 * versioned update (409 `PullRequestOutOfDateException`), merge and decline (`state` MERGED or
 * DECLINED, `closedDate`) and the activities that say who did it (the pull request itself does not),
 * 401 and 404 shaped as Atlassian's.
 */
import { credential, type FakeRequest, type FakeResponse, HttpFake, positiveInt, type TlsOptions } from './http-fake.js';

export interface BitbucketFakeOptions {
  token: string;
  /** `KEY/slug` repositories that exist. */
  repositories: string[];
  /** e.g. `/bitbucket`; default none. */
  contextPath?: string;
  /** Caps `limit` (Bitbucket's default page size is 25). */
  maxPageSize?: number;
  /** Leave `existingPullRequest` out of the duplicate answer (older versions). */
  omitExistingOnDuplicate?: boolean;
  tls?: TlsOptions;
}

export interface FakeBitbucketPull {
  id: number;
  version: number;
  title: string;
  description: string;
  state: 'OPEN' | 'DECLINED' | 'MERGED';
  fromRef: string;
  toRef: string;
  /** `KEY/slug` the source branch lives in (a fork's PR differs). */
  fromRepository: string;
  createdDate: number;
  updatedDate: number;
  closedDate?: number;
  /** Newest last: OPENED, MERGED, DECLINED, REOPENED, by whom and when. */
  activities: { action: string; user: string; createdDate: number }[];
}

export interface BitbucketServerApiFake {
  /** `http://127.0.0.1:<port>[/context]/rest/api/1.0`. */
  baseUrl: string;
  /** `http://127.0.0.1:<port>[/context]`: where clone and browser URLs start. */
  webUrl: string;
  http: HttpFake;
  pulls(repository: string): FakeBitbucketPull[];
  seedPull(repository: string, seed: Partial<FakeBitbucketPull> & { fromBranch: string; toBranch: string }): FakeBitbucketPull;
  /** Someone else edits the PR: its version moves on. */
  touch(repository: string, id: number): void;
  /** `user` merges the pull request. */
  merge(repository: string, id: number, user: string): FakeBitbucketPull;
  /** `user` declines it (Bitbucket's "close without merging"). */
  decline(repository: string, id: number, user: string): FakeBitbucketPull;
  reopen(repository: string, id: number, user: string): FakeBitbucketPull;
  close(): Promise<void>;
}

const errors = (status: number, exceptionName: string, message: string, extra: Record<string, unknown> = {}): FakeResponse => ({
  status,
  body: { errors: [{ context: null, message, exceptionName, ...extra }] },
});

export async function startBitbucketServerApi(options: BitbucketFakeOptions): Promise<BitbucketServerApiFake> {
  const context = (options.contextPath ?? '').replace(/\/+$/, '');
  const repos = new Map<string, { key: string; slug: string; pulls: FakeBitbucketPull[] }>(
    options.repositories.map((r) => {
      const [key = '', slug = ''] = r.split('/');
      return [r.toLowerCase(), { key, slug, pulls: [] }];
    }),
  );
  let nextId = 1;
  let clock = Date.parse('2026-11-22T00:00:00Z');
  const now = () => (clock += 1000);
  const web = () => `${http.url}${context}`;

  const refJson = (ref: string, repository: string) => {
    const [key = '', slug = ''] = repository.split('/');
    return {
      id: ref,
      displayId: ref.replace(/^refs\/heads\//, ''),
      latestCommit: 'c'.repeat(40),
      repository: { slug, name: slug, project: { key, name: key } },
    };
  };
  const pullJson = (repository: string, pull: FakeBitbucketPull) => {
    const [key = '', slug = ''] = repository.split('/');
    return {
      id: pull.id,
      version: pull.version,
      title: pull.title,
      description: pull.description,
      state: pull.state,
      open: pull.state === 'OPEN',
      closed: pull.state !== 'OPEN',
      createdDate: pull.createdDate,
      updatedDate: pull.updatedDate,
      ...(pull.closedDate === undefined ? {} : { closedDate: pull.closedDate }),
      fromRef: refJson(pull.fromRef, pull.fromRepository),
      toRef: refJson(pull.toRef, repository),
      locked: false,
      author: { user: { name: 'baton-bot', slug: 'baton-bot' }, role: 'AUTHOR', approved: false },
      reviewers: [],
      participants: [],
      links: { self: [{ href: `${web()}/projects/${key}/repos/${slug}/pull-requests/${pull.id}` }] },
    };
  };

  const userJson = (name: string) => ({ name, slug: name, displayName: name, emailAddress: `${name}@example.com`, type: 'NORMAL' });
  const act = (pull: FakeBitbucketPull, action: string, user: string) => {
    const at = now();
    pull.activities.push({ action, user, createdDate: at });
    pull.version += 1;
    pull.updatedDate = at;
    return at;
  };
  const end = (pull: FakeBitbucketPull, state: 'MERGED' | 'DECLINED', user: string) => {
    if (pull.state !== 'OPEN') throw new Error(`pull request ${pull.id} is ${pull.state}`);
    pull.state = state;
    pull.closedDate = act(pull, state, user);
    return pull;
  };

  function handle(request: FakeRequest): FakeResponse {
    const given = credential(request.headers);
    if (!given || given.scheme !== 'bearer' || given.value !== options.token) {
      return errors(
        401,
        'com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException',
        'Authentication failed. Please check your credentials and try again.',
      );
    }
    const prefix = `${context}/rest/api/1.0/projects/`;
    const path = request.url.pathname;
    const match = path.startsWith(prefix)
      ? /^([^/]+)\/repos\/([^/]+)\/pull-requests(?:\/(\d+)(\/activities)?)?$/.exec(path.slice(prefix.length))
      : null;
    if (!match) return errors(404, 'com.atlassian.bitbucket.rest.NoSuchResourceException', `No such resource: ${path}`);
    const key = decodeURIComponent(match[1]!);
    const slug = decodeURIComponent(match[2]!);
    const repositoryName = `${key}/${slug}`;
    const repo = repos.get(repositoryName.toLowerCase());
    if (!repo) {
      const projectExists = [...repos.values()].some((r) => r.key.toLowerCase() === key.toLowerCase());
      return projectExists
        ? errors(404, 'com.atlassian.bitbucket.repository.NoSuchRepositoryException', `Repository ${key}/${slug} does not exist.`)
        : errors(404, 'com.atlassian.bitbucket.project.NoSuchProjectException', `Project ${key} does not exist.`);
    }
    const canonical = `${repo.key}/${repo.slug}`;
    const id = match[3] === undefined ? undefined : Number(match[3]);
    const qualify = (ref: string) => (ref.startsWith('refs/') ? ref : `refs/heads/${ref}`);

    if (request.method === 'GET' && id === undefined) {
      const q = request.url.searchParams;
      const state = (q.get('state') ?? 'OPEN').toUpperCase();
      const direction = (q.get('direction') ?? 'INCOMING').toUpperCase();
      const at = q.get('at');
      const selected = repo.pulls
        .filter((p) => state === 'ALL' || p.state === state)
        .filter((p) => at === null || (direction === 'OUTGOING' ? p.fromRef : p.toRef) === qualify(at))
        .sort((a, b) => ((q.get('order') ?? 'NEWEST').toUpperCase() === 'OLDEST' ? a.id - b.id : b.id - a.id));
      const limit = Math.min(positiveInt(q.get('limit'), 25), options.maxPageSize ?? 1000);
      const start = Math.max(0, Number(q.get('start') ?? 0) || 0);
      const values = selected.slice(start, start + limit);
      const isLastPage = start + limit >= selected.length;
      return {
        status: 200,
        body: {
          size: values.length,
          limit,
          isLastPage,
          start,
          values: values.map((p) => pullJson(canonical, p)),
          ...(isLastPage ? {} : { nextPageStart: start + limit }),
        },
      };
    }

    if (request.method === 'POST' && id === undefined) {
      const body = (request.body ?? {}) as {
        title?: string;
        description?: string;
        fromRef?: { id?: string; repository?: { slug?: string; project?: { key?: string } } };
        toRef?: { id?: string };
      };
      if (!body.title || !body.fromRef?.id || !body.toRef?.id) {
        return errors(400, 'com.atlassian.bitbucket.validation.ArgumentValidationException', 'title, fromRef and toRef are required.');
      }
      const fromRepository =
        body.fromRef.repository?.project?.key && body.fromRef.repository.slug
          ? `${body.fromRef.repository.project.key}/${body.fromRef.repository.slug}`
          : canonical;
      const fromRef = qualify(body.fromRef.id);
      const toRef = qualify(body.toRef.id);
      const existing = repo.pulls.find(
        (p) =>
          p.state === 'OPEN' &&
          p.fromRef === fromRef &&
          p.toRef === toRef &&
          p.fromRepository.toLowerCase() === fromRepository.toLowerCase(),
      );
      if (existing) {
        return errors(
          409,
          'com.atlassian.bitbucket.pull.DuplicatePullRequestException',
          `Only one pull request may be open for a given source and target branch`,
          options.omitExistingOnDuplicate ? {} : { existingPullRequest: pullJson(canonical, existing) },
        );
      }
      const at = now();
      const pull: FakeBitbucketPull = {
        id: nextId++,
        version: 0,
        title: body.title,
        description: body.description ?? '',
        state: 'OPEN',
        fromRef,
        toRef,
        fromRepository,
        createdDate: at,
        updatedDate: at,
        activities: [{ action: 'OPENED', user: 'baton-bot', createdDate: at }],
      };
      repo.pulls.push(pull);
      return { status: 201, body: pullJson(canonical, pull) };
    }

    const pull = id === undefined ? undefined : repo.pulls.find((p) => p.id === id);
    if (id !== undefined && !pull) {
      return errors(404, 'com.atlassian.bitbucket.pull.NoSuchPullRequestException', `Pull request ${id} is not in ${canonical}.`);
    }
    if (request.method === 'GET' && pull && match[4] !== undefined) {
      const limit = Math.min(positiveInt(request.url.searchParams.get('limit'), 25), options.maxPageSize ?? 1000);
      const newestFirst = [...pull.activities].reverse().slice(0, limit);
      return {
        status: 200,
        body: {
          size: newestFirst.length,
          limit,
          isLastPage: newestFirst.length === pull.activities.length,
          start: 0,
          values: newestFirst.map((a, i) => ({ id: 500 + i, createdDate: a.createdDate, user: userJson(a.user), action: a.action })),
          ...(newestFirst.length === pull.activities.length ? {} : { nextPageStart: limit }),
        },
      };
    }
    if (request.method === 'GET' && pull) return { status: 200, body: pullJson(canonical, pull) };
    if (request.method === 'PUT' && pull) {
      const body = (request.body ?? {}) as { version?: number; title?: string; description?: string };
      if (body.version !== pull.version) {
        return errors(
          409,
          'com.atlassian.bitbucket.pull.PullRequestOutOfDateException',
          'You are attempting to modify a pull request based on out-of-date information.',
          { currentVersion: pull.version, expectedVersion: body.version ?? null, pullRequest: pullJson(canonical, pull) },
        );
      }
      if (body.title !== undefined) pull.title = body.title;
      if (body.description !== undefined) pull.description = body.description;
      pull.version += 1;
      pull.updatedDate = now();
      return { status: 200, body: pullJson(canonical, pull) };
    }
    return errors(405, 'com.atlassian.bitbucket.rest.MethodNotAllowedException', `${request.method} is not supported here.`);
  }

  const http = await HttpFake.start(handle, options.tls);
  const repoFor = (repository: string) => {
    const repo = repos.get(repository.toLowerCase());
    if (!repo) throw new Error(`unknown repository ${repository}`);
    return repo;
  };
  const pullOf = (repository: string, id: number) => {
    const pull = repoFor(repository).pulls.find((p) => p.id === id);
    if (!pull) throw new Error(`no pull request ${id}`);
    return pull;
  };
  return {
    baseUrl: `${web()}/rest/api/1.0`,
    webUrl: web(),
    http,
    pulls: (repository) => repoFor(repository).pulls,
    seedPull(repository, { fromBranch, toBranch, ...seed }) {
      const repo = repoFor(repository);
      const at = now();
      const pull: FakeBitbucketPull = {
        id: nextId++,
        version: 0,
        title: 'seeded',
        description: '',
        state: 'OPEN',
        fromRef: `refs/heads/${fromBranch}`,
        toRef: `refs/heads/${toBranch}`,
        fromRepository: `${repo.key}/${repo.slug}`,
        createdDate: at,
        updatedDate: at,
        activities: [{ action: 'OPENED', user: 'baton-bot', createdDate: at }],
        ...seed,
      };
      repo.pulls.push(pull);
      return pull;
    },
    merge: (repository, id, user) => end(pullOf(repository, id), 'MERGED', user),
    decline: (repository, id, user) => end(pullOf(repository, id), 'DECLINED', user),
    reopen(repository, id, user) {
      const pull = pullOf(repository, id);
      if (pull.state !== 'DECLINED') throw new Error(`pull request ${id} is ${pull.state}`);
      pull.state = 'OPEN';
      pull.closedDate = undefined;
      act(pull, 'REOPENED', user);
      return pull;
    },
    touch(repository, id) {
      const pull = repoFor(repository).pulls.find((p) => p.id === id);
      if (!pull) throw new Error(`no pull request ${id}`);
      pull.version += 1;
      pull.updatedDate = now();
    },
    close: () => http.close(),
  };
}
