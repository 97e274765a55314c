/**
 * GitHub's REST API pulls as Baton uses them, on loopback, Enterprise Server style (`/api/v3`):
 * list with `state`/`head`/`base` and `Link` paging, create (422 "already exists"), update, 401 and
 * 404 answers and `x-ratelimit-*` headers shaped as GitHub's. Rate limits and outages: `respondNext`.
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
}

export interface GitHubApiFake {
  /** The API root, `http://127.0.0.1:<port>/api/v3`. */
  baseUrl: string;
  /** Where `html_url`s point. */
  webUrl: string;
  http: HttpFake;
  pulls(repository: string): FakePull[];
  seedPull(repository: string, pull: Partial<FakePull> & Pick<FakePull, 'head' | 'base'>): FakePull;
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
      draft: false,
      head: { label: `${headOwner}:${pull.head}`, ref: pull.head, sha: 'a'.repeat(40), repo: repoJson(pull.headRepository) },
      base: { label: `${baseOwner}:${pull.base}`, ref: pull.base, sha: 'b'.repeat(40), repo: repoJson(fullName) },
    };
  };

  function handle(request: FakeRequest): FakeResponse {
    const given = credential(request.headers);
    if (!given || !['token', 'bearer'].includes(given.scheme) || given.value !== options.token) {
      return json(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
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

    if (request.method === 'PATCH' && number !== undefined) {
      const pull = pulls.find((p) => p.number === number);
      if (!pull) return notFound(`${DOCS}#update-a-pull-request`);
      const body = (request.body ?? {}) as { title?: string; body?: string; state?: 'open' | 'closed'; base?: string };
      if (body.title !== undefined) pull.title = body.title;
      if (body.body !== undefined) pull.body = body.body;
      if (body.state !== undefined) pull.state = body.state;
      if (body.base !== undefined) pull.base = body.base;
      pull.updatedAt = now();
      return json(200, pullJson(fullName, pull));
    }

    return notFound();
  }

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
    close: () => http.close(),
  };
}
