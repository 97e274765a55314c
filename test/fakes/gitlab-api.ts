/**
 * GitLab's REST API v4 merge requests as Baton uses them, on loopback (`/api/v4`): list with
 * `state`/`source_branch`/`target_branch` and `x-next-page` paging, create (409 for a duplicate),
 * show, edit (`state_event` close/reopen), merge (`PUT .../merge`), with GitLab's `merged_by` (and
 * its successor `merge_user`), `merged_at`, `closed_by` and `closed_at`; 401 and 404 answers shaped
 * as GitLab's. Rate limits and outages come from `respondNext`.
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

export interface GitLabFakeOptions {
  token: string;
  /** Project paths that exist, e.g. `platform/apps/podinfo-gitops`. */
  projects: string[];
  /** Caps `per_page` (GitLab: 100). */
  maxPageSize?: number;
  /** Answer the list as if `source_branch`/`target_branch` were not given. */
  ignoreListFilters?: boolean;
  tls?: TlsOptions;
}

export interface FakeMergeRequest {
  iid: number;
  title: string;
  description: string | null;
  state: 'opened' | 'closed' | 'merged';
  source_branch: string;
  target_branch: string;
  /** Differs from the project's ID for a merge request from a fork. */
  source_project_id: number;
  created_at: string;
  updated_at: string;
  merged?: { by: string; at: string };
  closed?: { by: string; at: string };
}

export interface GitLabApiFake {
  /** `http://127.0.0.1:<port>/api/v4`. */
  baseUrl: string;
  /** The instance's web root (`web_url`s start with it). */
  webUrl: string;
  http: HttpFake;
  mergeRequests(project: string): FakeMergeRequest[];
  seedMergeRequest(
    project: string,
    seed: Partial<FakeMergeRequest> & Pick<FakeMergeRequest, 'source_branch' | 'target_branch'>,
  ): FakeMergeRequest;
  /** `username` merges the merge request. */
  merge(project: string, iid: number, username: string): FakeMergeRequest;
  /** `username` closes it without merging. */
  closeMergeRequest(project: string, iid: number, username: string): FakeMergeRequest;
  reopen(project: string, iid: number): FakeMergeRequest;
  close(): Promise<void>;
}

interface Project {
  id: number;
  path: string;
  mergeRequests: FakeMergeRequest[];
}

export async function startGitLabApi(options: GitLabFakeOptions): Promise<GitLabApiFake> {
  const projects = options.projects.map((path, i): Project => ({ id: 100 + i, path, mergeRequests: [] }));
  let clock = Date.parse('2026-11-22T00:00:00Z');
  const now = () => new Date((clock += 1000)).toISOString();
  const maxPageSize = options.maxPageSize ?? 100;
  const api = () => `${http.url}/api/v4`;

  const findProject = (id: string) => {
    const decoded = decodeURIComponent(id);
    return projects.find((p) => String(p.id) === decoded || p.path.toLowerCase() === decoded.toLowerCase());
  };
  const user = (username: string) => ({
    id: 1000 + username.length,
    username,
    name: username,
    state: 'active',
    web_url: `${http.url}/${username}`,
  });
  const mergeAs = (mr: FakeMergeRequest, username: string) => {
    const at = now();
    Object.assign(mr, { state: 'merged', merged: { by: username, at }, updated_at: at });
  };
  const closeAs = (mr: FakeMergeRequest, username: string) => {
    const at = now();
    Object.assign(mr, { state: 'closed', closed: { by: username, at }, updated_at: at });
  };
  const reopen = (mr: FakeMergeRequest) => {
    Object.assign(mr, { state: 'opened', closed: undefined, updated_at: now() });
  };
  const mrJson = (project: Project, mr: FakeMergeRequest) => ({
    id: project.id * 1000 + mr.iid,
    iid: mr.iid,
    project_id: project.id,
    title: mr.title,
    description: mr.description,
    state: mr.state,
    created_at: mr.created_at,
    updated_at: mr.updated_at,
    target_branch: mr.target_branch,
    source_branch: mr.source_branch,
    source_project_id: mr.source_project_id,
    target_project_id: project.id,
    author: user('baton-bot'),
    merged_by: mr.merged === undefined ? null : user(mr.merged.by),
    merge_user: mr.merged === undefined ? null : user(mr.merged.by),
    merged_at: mr.merged?.at ?? null,
    closed_by: mr.closed === undefined ? null : user(mr.closed.by),
    closed_at: mr.closed?.at ?? null,
    draft: false,
    merge_status: 'can_be_merged',
    detailed_merge_status: 'mergeable',
    references: { short: `!${mr.iid}`, full: `${project.path}!${mr.iid}` },
    web_url: `${http.url}/${project.path}/-/merge_requests/${mr.iid}`,
  });

  function handle(request: FakeRequest): FakeResponse {
    const given = credential(request.headers);
    if (!given || !['private-token', 'bearer'].includes(given.scheme) || given.value !== options.token) {
      return { status: 401, body: { message: '401 Unauthorized' } };
    }
    const match = /^\/api\/v4\/projects\/([^/]+)\/merge_requests(?:\/(\d+)(\/merge)?)?$/.exec(request.url.pathname);
    if (!match) return { status: 404, body: { error: '404 Not Found' } };
    const project = findProject(match[1]!);
    if (!project) return { status: 404, body: { message: '404 Project Not Found' } };
    const iid = match[2] === undefined ? undefined : Number(match[2]);
    const all = project.mergeRequests;

    if (iid !== undefined && (request.method === 'GET' || match[3] !== undefined)) {
      const mr = all.find((m) => m.iid === iid);
      if (!mr) return { status: 404, body: { message: '404 Not found' } };
      if (match[3] === undefined) return { status: 200, body: mrJson(project, mr) };
      if (request.method !== 'PUT') return { status: 405, body: { message: '405 Method Not Allowed' } };
      if (mr.state !== 'opened') return { status: 405, body: { message: '405 Method Not Allowed' } };
      mergeAs(mr, 'baton-bot');
      return { status: 200, body: mrJson(project, mr) };
    }

    if (request.method === 'GET' && iid === undefined) {
      const q = request.url.searchParams;
      const state = q.get('state') ?? 'all';
      const source = q.get('source_branch');
      const target = q.get('target_branch');
      const selected = all
        .filter((mr) => state === 'all' || mr.state === state)
        .filter(
          (mr) =>
            options.ignoreListFilters ||
            ((source === null || mr.source_branch === source) && (target === null || mr.target_branch === target)),
        )
        .sort((a, b) => b.iid - a.iid);
      const perPage = Math.min(positiveInt(q.get('per_page'), 20), maxPageSize);
      const page = positiveInt(q.get('page'), 1);
      const { items, last } = pageOf(selected, page, perPage);
      const at = (n: number) => {
        const copy = new URLSearchParams(q);
        copy.set('page', String(n));
        return `${api()}/projects/${project.id}/merge_requests?${copy.toString()}`;
      };
      const link = linkHeader({
        prev: page > 1 ? at(page - 1) : undefined,
        next: page < last ? at(page + 1) : undefined,
        first: at(1),
        last: at(last),
      });
      return {
        status: 200,
        body: items.map((mr) => mrJson(project, mr)),
        headers: {
          'x-page': String(page),
          'x-per-page': String(perPage),
          'x-next-page': page < last ? String(page + 1) : '',
          'x-prev-page': page > 1 ? String(page - 1) : '',
          'x-total': String(selected.length),
          'x-total-pages': String(last),
          ...(link ? { link } : {}),
        },
      };
    }

    if (request.method === 'POST' && iid === undefined) {
      const body = (request.body ?? {}) as { source_branch?: string; target_branch?: string; title?: string; description?: string };
      for (const field of ['source_branch', 'target_branch', 'title'] as const) {
        if (typeof body[field] !== 'string' || body[field] === '') return { status: 400, body: { error: `${field} is missing` } };
      }
      const existing = all.find(
        (mr) =>
          mr.state === 'opened' &&
          mr.source_branch === body.source_branch &&
          mr.target_branch === body.target_branch &&
          mr.source_project_id === project.id,
      );
      if (existing) {
        return { status: 409, body: { message: [`Another open merge request already exists for this source branch: !${existing.iid}`] } };
      }
      const at = now();
      const mr: FakeMergeRequest = {
        iid: all.reduce((max, m) => Math.max(max, m.iid), 0) + 1,
        title: body.title!,
        description: body.description ?? null,
        state: 'opened',
        source_branch: body.source_branch!,
        target_branch: body.target_branch!,
        source_project_id: project.id,
        created_at: at,
        updated_at: at,
      };
      all.push(mr);
      return { status: 201, body: mrJson(project, mr) };
    }

    if (request.method === 'PUT' && iid !== undefined) {
      const mr = all.find((m) => m.iid === iid);
      if (!mr) return { status: 404, body: { message: '404 Not found' } };
      const body = (request.body ?? {}) as { title?: string; description?: string; target_branch?: string; state_event?: string };
      if (body.title !== undefined) mr.title = body.title;
      if (body.description !== undefined) mr.description = body.description;
      if (body.target_branch !== undefined) mr.target_branch = body.target_branch;
      if (body.state_event === 'close' && mr.state === 'opened') closeAs(mr, 'baton-bot');
      if (body.state_event === 'reopen' && mr.state === 'closed') reopen(mr);
      mr.updated_at = now();
      return { status: 200, body: mrJson(project, mr) };
    }

    return { status: 405, body: { message: '405 Method Not Allowed' } };
  }

  const http = await HttpFake.start(handle, options.tls);
  const projectFor = (path: string) => {
    const project = projects.find((p) => p.path.toLowerCase() === path.toLowerCase());
    if (!project) throw new Error(`unknown project ${path}`);
    return project;
  };
  const mergeRequestOf = (path: string, iid: number) => {
    const mr = projectFor(path).mergeRequests.find((m) => m.iid === iid);
    if (!mr) throw new Error(`no merge request !${iid} in ${path}`);
    return mr;
  };
  return {
    baseUrl: api(),
    webUrl: http.url,
    http,
    mergeRequests: (path) => projectFor(path).mergeRequests,
    seedMergeRequest(path, seed) {
      const project = projectFor(path);
      const at = now();
      const mr: FakeMergeRequest = {
        iid: project.mergeRequests.reduce((max, m) => Math.max(max, m.iid), 0) + 1,
        title: 'seeded',
        description: '',
        state: 'opened',
        source_project_id: project.id,
        created_at: at,
        updated_at: at,
        ...seed,
      };
      project.mergeRequests.push(mr);
      return mr;
    },
    merge(path, iid, username) {
      const mr = mergeRequestOf(path, iid);
      mergeAs(mr, username);
      return mr;
    },
    closeMergeRequest(path, iid, username) {
      const mr = mergeRequestOf(path, iid);
      closeAs(mr, username);
      return mr;
    },
    reopen(path, iid) {
      const mr = mergeRequestOf(path, iid);
      reopen(mr);
      return mr;
    },
    close: () => http.close(),
  };
}
