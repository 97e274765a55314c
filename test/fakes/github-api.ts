/**
 * GitHub's REST API pulls as Baton uses them, on loopback, Enterprise Server style (`/api/v3`):
 * list with `state`/`head`/`base` and `Link` paging, create (422 "already exists"), get, update,
 * merge (`PUT .../merge`) and the issue of a pull request (who closed it: the pulls API does not
 * say), with GitHub's `merged`, `merged_at`, `merged_by`, `closed_at` and `closed_by`; 401 and 404
 * answers and `x-ratelimit-*` headers shaped as GitHub's. Rate limits and outages: `respondNext`.
 */
import {
  credential,
  type FakeRequest,
  type FakeResponse,
  HttpFake,
  linkHeader,
  pageOf,
  positiveInt,
  type TlsOptions,
} from './http-fake.js';

export interface GitHubFakeOptions {
  token: string;
  /** `owner/repo` names that exist. */
  repositories: string[];
  /** Caps `per_page` (GitHub: 100), so tests can make a short list span pages. */
  maxPageSize?: number;
  /** Answer the list as if `head`/`base` were not given, to prove the client filters and pages itself. */
  ignoreListFilters?: boolean;
  tls?: TlsOptions;
}

export interface FakePull {
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  head: string;
  base: string;
  /** `owner/repo` the head branch lives in (a fork's PR differs from the base repository). */
  headRepository: string;
  createdAt: string;
  updatedAt: string;
  merged?: { by: string; at: string };
  closed?: { by: string; at: string };
}

export interface GitHubApiFake {
  /** The API root, `http://127.0.0.1:<port>/api/v3`. */
  baseUrl: string;
  /** Where `html_url`s point. */
  webUrl: string;
  http: HttpFake;
  pulls(repository: string): FakePull[];
  seedPull(repository: string, pull: Partial<FakePull> & Pick<FakePull, 'head' | 'base'>): FakePull;
  /** `login` merges the pull request (as the web UI's merge button would). */
  mergePull(repository: string, number: number, login: string): FakePull;
  /** `login` closes it without merging. */
  closePull(repository: string, number: number, login: string): FakePull;
  reopenPull(repository: string, number: number): FakePull;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest/pulls/pulls';

export async function startGitHubApi(options: GitHubFakeOptions): Promise<GitHubApiFake> {
  const pullsByRepo = new Map<string, FakePull[]>(options.repositories.map((r) => [r.toLowerCase(), []]));
  let nextNumber = 1;
  let clock = Date.parse('2026-11-22T00:00:00Z');
  const now = () => new Date((clock += 1000)).toISOString();
  const maxPageSize = options.maxPageSize ?? 100;
  const rateHeaders = {
    'x-ratelimit-limit': '5000',
    'x-ratelimit-remaining': '4999',
    'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
    'x-ratelimit-used': '1',
    'x-ratelimit-resource': 'core',
  };

  const api = () => `${http.url}/api/v3`;
  const web = () => `${http.url}/web`;

  const json = (status: number, body: unknown, headers: Record<string, string> = {}): FakeResponse => ({
    status,
    body,
    headers: { ...rateHeaders, ...headers },
  });
  const notFound = (docs = 'https://docs.github.com/rest') => json(404, { message: 'Not Found', documentation_url: docs, status: '404' });

  const repoJson = (fullName: string) => {
    const [owner = '', name = ''] = fullName.split('/');
    return { full_name: fullName, name, owner: { login: owner }, html_url: `${web()}/${fullName}` };
  };
  const pullJson = (fullName: string, pull: FakePull) => {
    const headOwner = pull.headRepository.split('/')[0] ?? '';
    const baseOwner = fullName.split('/')[0] ?? '';
    return {
      url: `${api()}/repos/${fullName}/pulls/${pull.number}`,
      id: 1000 + pull.number,
      node_id: `PR_${pull.number}`,
      html_url: `${web()}/${fullName}/pull/${pull.number}`,
      number: pull.number,
      state: pull.state,
      locked: false,
      title: pull.title,
      body: pull.body,
      user: { login: 'baton-bot' },
      created_at: pull.createdAt,
      updated_at: pull.updatedAt,
      closed_at: pull.closed?.at ?? pull.merged?.at ?? null,
      merged_at: pull.merged?.at ?? null,
      merged: pull.merged !== undefined,
      merged_by: pull.merged === undefined ? null : { login: pull.merged.by, type: 'User' },
      merge_commit_sha: pull.merged === undefined ? null : 'd'.repeat(40),
      draft: false,
      head: { label: `${headOwner}:${pull.head}`, ref: pull.head, sha: 'a'.repeat(40), repo: repoJson(pull.headRepository) },
      base: { label: `${baseOwner}:${pull.base}`, ref: pull.base, sha: 'b'.repeat(40), repo: repoJson(fullName) },
    };
  };

  /** A pull request as its issue (`GET /repos/{o}/{r}/issues/{n}`) shows it: the only place with `closed_by`. */
  const issueJson = (fullName: string, pull: FakePull) => ({
    url: `${api()}/repos/${fullName}/issues/${pull.number}`,
    html_url: `${web()}/${fullName}/pull/${pull.number}`,
    number: pull.number,
    state: pull.state,
    state_reason: null,
    title: pull.title,
    body: pull.body,
    user: { login: 'baton-bot' },
    closed_at: pull.closed?.at ?? pull.merged?.at ?? null,
    closed_by: pull.closed === undefined && pull.merged === undefined ? null : { login: pull.closed?.by ?? pull.merged!.by, type: 'User' },
    pull_request: { url: `${api()}/repos/${fullName}/pulls/${pull.number}`, merged_at: pull.merged?.at ?? null },
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
  });

  function handle(request: FakeRequest): FakeResponse {
    const given = credential(request.headers);
    if (!given || !['token', 'bearer'].includes(given.scheme) || given.value !== options.token) {
      return json(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    }
    const issue = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)$/.exec(request.url.pathname);
    if (issue && request.method === 'GET') {
      const fullName = `${decodeURIComponent(issue[1]!)}/${decodeURIComponent(issue[2]!)}`;
      const pull = pullsByRepo.get(fullName.toLowerCase())?.find((p) => p.number === Number(issue[3]));
      return pull ? json(200, issueJson(fullName, pull)) : notFound('https://docs.github.com/rest/issues/issues#get-an-issue');
    }
    const merge = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)\/merge$/.exec(request.url.pathname);
    if (merge && request.method === 'PUT') {
      const fullName = `${decodeURIComponent(merge[1]!)}/${decodeURIComponent(merge[2]!)}`;
      const pull = pullsByRepo.get(fullName.toLowerCase())?.find((p) => p.number === Number(merge[3]));
      if (!pull) return notFound(`${DOCS}#merge-a-pull-request`);
      if (pull.state !== 'open')
        return json(405, { message: 'Pull Request is not mergeable', documentation_url: `${DOCS}#merge-a-pull-request` });
      mergeAs(pull, 'baton-bot');
      return json(200, { sha: 'd'.repeat(40), merged: true, message: 'Pull Request successfully merged' });
    }
    const match = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/pulls(?:\/(\d+))?$/.exec(request.url.pathname);
    if (!match) return notFound();
    const fullName = `${decodeURIComponent(match[1]!)}/${decodeURIComponent(match[2]!)}`;
    const pulls = pullsByRepo.get(fullName.toLowerCase());
    if (!pulls) return notFound(`${DOCS}#list-pull-requests`);
    const owner = fullName.split('/')[0]!;
    const number = match[3] === undefined ? undefined : Number(match[3]);

    if (request.method === 'GET' && number === undefined) {
      const q = request.url.searchParams;
      const state = q.get('state') ?? 'open';
      const head = q.get('head');
      const base = q.get('base');
      const selected = pulls
        .filter((p) => state === 'all' || p.state === state)
        .filter((p) => {
          if (options.ignoreListFilters) return true;
          if (base !== null && p.base !== base) return false;
          if (head !== null && head.includes(':')) {
            const [headOwner, ...ref] = head.split(':');
            return p.head === ref.join(':') && p.headRepository.split('/')[0]!.toLowerCase() === headOwner!.toLowerCase();
          }
          return true;
        })
        .sort((a, b) => b.number - a.number);
      const perPage = Math.min(positiveInt(q.get('per_page'), 30), maxPageSize);
      const page = positiveInt(q.get('page'), 1);
      const { items, last } = pageOf(selected, page, perPage);
      const at = (n: number) => {
        const copy = new URLSearchParams(q);
        copy.set('page', String(n));
        return `${api()}/repos/${fullName}/pulls?${copy.toString()}`;
      };
      const link = linkHeader({
        prev: page > 1 ? at(page - 1) : undefined,
        next: page < last ? at(page + 1) : undefined,
        last: page < last ? at(last) : undefined,
        first: page > 1 ? at(1) : undefined,
      });
      return json(
        200,
        items.map((p) => pullJson(fullName, p)),
        link ? { link } : {},
      );
    }

    if (request.method === 'POST' && number === undefined) {
      const body = (request.body ?? {}) as { title?: string; head?: string; base?: string; body?: string };
      for (const field of ['title', 'head', 'base'] as const) {
        if (typeof body[field] !== 'string' || body[field] === '') {
          return json(422, {
            message: 'Invalid request.',
            errors: [{ resource: 'PullRequest', code: 'missing_field', field }],
            documentation_url: `${DOCS}#create-a-pull-request`,
            status: '422',
          });
        }
      }
      const [headOwner, headRef] = body.head!.includes(':') ? body.head!.split(':', 2) : [owner, body.head!];
      const headRepository = headOwner!.toLowerCase() === owner.toLowerCase() ? fullName : `${headOwner}/${fullName.split('/')[1]}`;
      if (pulls.some((p) => p.state === 'open' && p.head === headRef && p.base === body.base && p.headRepository === headRepository)) {
        return json(422, {
          message: 'Validation Failed',
          errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${headOwner}:${headRef}.` }],
          documentation_url: `${DOCS}#create-a-pull-request`,
          status: '422',
        });
      }
      const at = now();
      const pull: FakePull = {
        number: nextNumber++,
        title: body.title!,
        body: body.body ?? null,
        state: 'open',
        head: headRef!,
        base: body.base!,
        headRepository,
        createdAt: at,
        updatedAt: at,
      };
      pulls.push(pull);
      return json(201, pullJson(fullName, pull), { location: `${api()}/repos/${fullName}/pulls/${pull.number}` });
    }

    if (request.method === 'GET' && number !== undefined) {
      const pull = pulls.find((p) => p.number === number);
      return pull ? json(200, pullJson(fullName, pull)) : notFound(`${DOCS}#get-a-pull-request`);
    }

    if (request.method === 'PATCH' && number !== undefined) {
      const pull = pulls.find((p) => p.number === number);
      if (!pull) return notFound(`${DOCS}#update-a-pull-request`);
      const body = (request.body ?? {}) as { title?: string; body?: string; state?: 'open' | 'closed'; base?: string };
      if (body.title !== undefined) pull.title = body.title;
      if (body.body !== undefined) pull.body = body.body;
      if (body.state === 'closed' && pull.state === 'open') closeAs(pull, 'baton-bot');
      if (body.state === 'open' && pull.state === 'closed' && pull.merged === undefined) reopen(pull);
      if (body.base !== undefined) pull.base = body.base;
      pull.updatedAt = now();
      return json(200, pullJson(fullName, pull));
    }

    return notFound();
  }

  function mergeAs(pull: FakePull, login: string): void {
    const at = now();
    Object.assign(pull, { state: 'closed', merged: { by: login, at }, updatedAt: at });
  }
  function closeAs(pull: FakePull, login: string): void {
    const at = now();
    Object.assign(pull, { state: 'closed', closed: { by: login, at }, updatedAt: at });
  }
  function reopen(pull: FakePull): void {
    pull.state = 'open';
    pull.closed = undefined;
    pull.updatedAt = now();
  }
  const pullOf = (repository: string, number: number): FakePull => {
    const pull = pullsByRepo.get(repository.toLowerCase())?.find((p) => p.number === number);
    if (!pull) throw new Error(`no pull request #${number} in ${repository}`);
    return pull;
  };

  const http = await HttpFake.start(handle, options.tls);
  return {
    baseUrl: api(),
    webUrl: web(),
    http,
    pulls: (repository) => pullsByRepo.get(repository.toLowerCase()) ?? [],
    seedPull(repository, seed) {
      const pulls = pullsByRepo.get(repository.toLowerCase());
      if (!pulls) throw new Error(`unknown repository ${repository}`);
      const at = now();
      const pull: FakePull = {
        number: nextNumber++,
        title: 'seeded',
        body: '',
        state: 'open',
        headRepository: repository,
        createdAt: at,
        updatedAt: at,
        ...seed,
      };
      pulls.push(pull);
      return pull;
    },
    mergePull(repository, number, login) {
      const pull = pullOf(repository, number);
      mergeAs(pull, login);
      return pull;
    },
    closePull(repository, number, login) {
      const pull = pullOf(repository, number);
      closeAs(pull, login);
      return pull;
    },
    reopenPull(repository, number) {
      const pull = pullOf(repository, number);
      reopen(pull);
      return pull;
    },
    close: () => http.close(),
  };
}
