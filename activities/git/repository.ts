/**
 * The git side of the pull-request strategy: fetch the base branch, set every `$promotion` marker
 * for the reference to the version, commit, and push the promotion branch, rebuilt from the latest
 * base, with a lease.
 *
 * Shaped by measurements (isomorphic-git's defaults are 5–30× slower than native git on a
 * 10,000-file repository), it does only the work that must be done:
 * - refs are discovered on the push endpoint (isomorphic-git), which also proves push access;
 * - the base commit is fetched shallow (depth 1), single branch, without tags or checkout, and its
 *   pack is indexed in memory (upload-pack.ts, pack-reader.ts);
 * - only `*.yaml`/`*.yml` blobs are read, and a byte pre-filter decides which ones get parsed;
 * - new blobs and trees are written (isomorphic-git, into a temp bare repository that is always
 *   removed) only along the changed paths;
 * - the push sends exactly those objects, with the lease checked by the server (receive-pack.ts).
 *
 * The server is not trusted further than its answers check out: only the hosts the operator allows
 * are contacted, and what it sends is bounded in time and size (limits.ts).
 */
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import git from 'isomorphic-git';
import { FailureType } from '../../model/failures.js';
import type { PipelineRef } from '../../model/pipeline.js';
import { ANY_HOST, assertHostAllowed, type HostAllowlist } from '../http/host-allowlist.js';
import { quoteAnswer } from '../http/quote-answer.js';
import { redactUrl } from '../http/redact-url.js';
import { createGitHttpClient, type GitHttpClient } from './http-transport.js';
import { gitLimits, type GitLimits } from './limits.js';
import { type PatchedFile, patchMarkers } from './markers.js';
import { PackedObjects, type TreeEntry } from './pack-reader.js';
import { sendReceivePack, ZERO_OID } from './receive-pack.js';
import { RefusedGitData } from './refused-git-data.js';
import { fetchShallowPack } from './upload-pack.js';

export interface GitCredentials {
  username: string;
  password: string;
}

export interface CommitAuthor {
  name: string;
  email: string;
}

export const DEFAULT_COMMIT_AUTHOR: CommitAuthor = { name: 'Promotion Server', email: 'promotion-server@baton.invalid' };
/** Lost leases in a row before giving up (the activity's retry policy takes over from there). */
export const DEFAULT_MAX_PUSH_ATTEMPTS = 4;
const HEARTBEAT_INTERVAL_MS = 250;

/** What a heartbeat reports while the step runs; progress for humans, not a resume point. */
export interface GitStepProgress {
  phase: 'discover' | 'fetch' | 'scan' | 'commit' | 'push';
  attempt: number;
  /** Bytes sent and received over HTTP so far. */
  bytes?: number;
}

export interface PromoteInRepositoryInput {
  /** `https://…/repo(.git)`; credentials in the URL are ignored, the Secret's are used. */
  url: string;
  baseBranch: string;
  /** The promotion branch, `promotionBranchName(...)`. */
  branch: string;
  credentials: GitCredentials;
  /** PEM certificate(s) to trust for the git server: the content of the Secret's `caFile` key. */
  caFile?: string | Buffer;
  /** Allows plain `http://` (loopback tests); refused otherwise, credentials would travel in clear. */
  allowInsecureHttp?: boolean;
  /** `<pipelineNamespace>:<pipelineName>:<targetEnv>`, `markerReference(...)`. */
  reference: string;
  version: string;
  /** Defaults to DEFAULT_COMMIT_AUTHOR. */
  author?: CommitAuthor;
  /** The whole commit message, trailers included: `promotionCommitMessage(...)`. */
  message: string;
  /** The activity's cancellation signal: stops transfers and the scan. */
  signal?: AbortSignal;
  heartbeat?: (progress: GitStepProgress) => void;
  maxPushAttempts?: number;
  /** Where the temp work directory goes (default: the OS temp dir); it is always removed. */
  workRoot?: string;
  /** The hosts the URL may name (`BATON_GIT_HOSTS`), checked before any connection; default any. */
  allowedHosts?: HostAllowlist;
  /** Replaces some of DEFAULT_GIT_LIMITS (tests use small ones). */
  limits?: Partial<GitLimits>;
}

export type PromoteInRepositoryResult =
  | { status: 'already-at-version'; baseCommit: string; markers: number }
  | { status: 'pushed'; commit: string; branch: string; changedFiles: string[]; baseCommit: string };

export interface PromotionCommitMessage {
  pipeline: PipelineRef;
  environment: string;
  version: string;
  workflowId: string;
}

/** `promotion-<ns>-<name>-<env>`: one branch per pipeline and target environment, as Weave named it. */
export function promotionBranchName(pipeline: PipelineRef, environment: string): string {
  return `promotion-${pipeline.namespace}-${pipeline.name}-${environment}`;
}

/** Weave's title as the subject, and trailers so `git log` shows which release wrote the commit. */
export function promotionCommitMessage(input: PromotionCommitMessage): string {
  const { pipeline, environment, version, workflowId } = input;
  return [
    `Promote ${pipeline.namespace}/${pipeline.name} in ${environment} to ${version}`,
    '',
    `Promotion-Pipeline: ${pipeline.namespace}/${pipeline.name}`,
    `Promotion-Environment: ${environment}`,
    `Promotion-Version: ${version}`,
    `Promotion-Workflow: ${workflowId}`,
    '',
  ].join('\n');
}

/** What any git operation of ours needs: where, as whom, within which limits. */
type GitSessionInput = Pick<
  PromoteInRepositoryInput,
  'url' | 'branch' | 'credentials' | 'caFile' | 'allowInsecureHttp' | 'allowedHosts' | 'signal' | 'heartbeat' | 'limits'
>;

/** Everything one promotion (or branch deletion) shares across its attempts. */
interface Session<I extends GitSessionInput = PromoteInRepositoryInput> {
  input: I;
  /** The URL requests go to: no userinfo, no trailing slash. */
  url: string;
  /** The URL as failures name it: redactUrl's (no query string, at most 200 characters). */
  shown: string;
  limits: GitLimits;
  http: GitHttpClient;
  headers: Record<string, string>;
  attempt: number;
  report(progress: Omit<GitStepProgress, 'attempt'>): void;
}

interface RemoteRefs {
  base: string;
  /** The promotion branch's commit when we looked, ZERO_OID when absent: the lease. */
  lease: string;
}

interface ChangedFile {
  path: string;
  content: Buffer;
}

interface ScanOutcome {
  changed: ChangedFile[];
  markers: number;
  stray: string[];
}

/** A commit ready to push, built on `baseCommit`. */
interface PreparedCommit {
  baseCommit: string;
  commit: string;
  pack: Uint8Array;
  changedFiles: string[];
}

type Preparation = PreparedCommit | { baseCommit: string; alreadyAt: number };

/**
 * Runs the git step. Resolves `already-at-version` when the base branch already has the version
 * everywhere (nothing pushed), `pushed` otherwise. Non-retryable ApplicationFailures for what
 * retrying cannot fix; plain Errors (retried) for network trouble and 5xx.
 */
export async function promoteInRepository(input: PromoteInRepositoryInput): Promise<PromoteInRepositoryResult> {
  const url = repositoryUrl(input);
  assertHostAllowed(url, input.allowedHosts ?? ANY_HOST);
  const workDir = await mkdtemp(join(input.workRoot ?? tmpdir(), 'baton-promotion-'));
  const session = openSession(input, url);
  try {
    return await promoteWithRetries(session, workDir);
  } catch (error) {
    throw classifyError(error, session);
  } finally {
    session.http.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function promoteWithRetries(session: Session, workDir: string): Promise<PromoteInRepositoryResult> {
  const maxAttempts = session.input.maxPushAttempts ?? DEFAULT_MAX_PUSH_ATTEMPTS;
  // A bare repository for the few objects we write (isomorphic-git writes and packs them from there).
  const gitdir = join(workDir, 'repo.git');
  await git.init({ fs, dir: gitdir, gitdir, bare: true, defaultBranch: session.input.baseBranch });
  let prepared: Preparation | undefined;
  let refs = await discoverRefs(session);
  for (session.attempt = 1; ; session.attempt++) {
    // The same base needs no new fetch: only the lease changed since the last attempt.
    if (prepared?.baseCommit !== refs.base) prepared = await prepare(session, refs, gitdir);
    if ('alreadyAt' in prepared) return { status: 'already-at-version', baseCommit: prepared.baseCommit, markers: prepared.alreadyAt };
    session.input.signal?.throwIfAborted();
    session.report({ phase: 'push' });
    const report = await sendReceivePack({
      http: session.http,
      url: session.url,
      headers: session.headers,
      update: { ref: `refs/heads/${session.input.branch}`, expectedOid: refs.lease, newOid: prepared.commit },
      pack: prepared.pack,
      maxResponseBytes: session.limits.maxResponseBytes,
    });
    if (report.status === 'ok') return pushed(session, prepared);
    // Refused: a lost lease if the branch is no longer where we saw it, else a real refusal.
    const now = await discoverRefs(session);
    if (now.lease === refs.lease) throw pushRejected(session, report.reason);
    if (session.attempt >= maxAttempts) {
      throw new Error(`${session.input.branch} in ${session.shown} changed under each of ${maxAttempts} pushes (last: ${report.reason})`);
    }
    refs = now;
  }
}

function pushed(session: Session, prepared: PreparedCommit): PromoteInRepositoryResult {
  const { commit, changedFiles, baseCommit } = prepared;
  return { status: 'pushed', commit, branch: session.input.branch, changedFiles, baseCommit };
}

export interface DeleteBranchInput extends GitSessionInput {
  /** The commit the branch must still hold: a branch pushed again since (a newer promotion) is kept. */
  commit: string;
}

export type DeleteBranchResult = { status: 'deleted' | 'absent' | 'moved' };

/**
 * Deletes the promotion branch, with a lease on the commit we pushed: git's receive-pack deletes it
 * only if it still holds that commit. A branch already gone, or holding another commit, is left as it is.
 */
export async function deleteBranch(input: DeleteBranchInput): Promise<DeleteBranchResult> {
  const url = repositoryUrl(input);
  assertHostAllowed(url, input.allowedHosts ?? ANY_HOST);
  const session = openSession(input, url);
  const ref = `refs/heads/${input.branch}`;
  const current = async (): Promise<DeleteBranchResult | undefined> => {
    const oid = await branchOid(session, ref);
    if (oid === undefined) return { status: 'absent' };
    return oid === input.commit ? undefined : { status: 'moved' };
  };
  try {
    const before = await current();
    if (before !== undefined) return before;
    session.report({ phase: 'push' });
    // Only deletions: no pack follows the commands.
    const report = await sendReceivePack({
      http: session.http,
      url: session.url,
      headers: session.headers,
      update: { ref, expectedOid: input.commit, newOid: ZERO_OID },
      pack: new Uint8Array(0),
      maxResponseBytes: session.limits.maxResponseBytes,
    });
    if (report.status === 'ok') return { status: 'deleted' };
    const after = await current();
    if (after !== undefined) return after;
    throw ApplicationFailure.nonRetryable(
      `${session.shown} refused to delete ${input.branch}: ${quoteAnswer(report.reason)}`,
      FailureType.gitPushRejected,
    );
  } catch (error) {
    throw classifyError(error, session);
  } finally {
    session.http.close();
  }
}

/** The commit `ref` holds on the server (asked on the push endpoint, which proves push access), if it exists. */
async function branchOid(session: Session<GitSessionInput>, ref: string): Promise<string | undefined> {
  session.report({ phase: 'discover' });
  const refs = await git.listServerRefs({
    http: session.http,
    url: session.url,
    headers: { ...session.headers },
    onAuth: () => session.input.credentials,
    forPush: true,
    protocolVersion: 1,
  });
  return refs.find((r) => r.ref === ref)?.oid;
}

/** Only `https://` unless explicitly allowed; userinfo dropped so it is neither sent nor shown. */
function repositoryUrl(input: GitSessionInput): string {
  let parsed: URL;
  try {
    parsed = new URL(input.url);
  } catch {
    throw ApplicationFailure.nonRetryable(
      `repository URL ${JSON.stringify(redactUrl(input.url))} is not a URL`,
      FailureType.invalidRepositoryUrl,
    );
  }
  parsed.username = '';
  parsed.password = '';
  const url = parsed.toString().replace(/\/+$/, '');
  if (parsed.protocol === 'http:' && !input.allowInsecureHttp) {
    throw ApplicationFailure.nonRetryable(
      `refusing plain http:// for ${redactUrl(url)}: the git credentials would travel unencrypted; use https://`,
      FailureType.insecureRepositoryUrl,
    );
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw ApplicationFailure.nonRetryable(`repository URL ${redactUrl(url)} is not http(s)`, FailureType.invalidRepositoryUrl);
  }
  return url;
}

function openSession<I extends GitSessionInput>(input: I, url: string): Session<I> {
  let lastBeat = 0;
  let lastStep = '';
  let phase: GitStepProgress['phase'] = 'discover';
  let bytes = 0;
  const limits = gitLimits(input.limits);
  const session: Session<I> = {
    input,
    url,
    shown: redactUrl(url),
    limits,
    attempt: 1,
    headers: { authorization: basicAuthorization(input.credentials) },
    http: createGitHttpClient({
      ...(input.caFile === undefined ? {} : { ca: input.caFile }),
      ...(input.signal ? { signal: input.signal } : {}),
      limits,
      onBytes: (count) => {
        bytes += count;
        session.report({ phase, bytes });
      },
    }),
    // Every new phase or attempt is reported at once; within one, progress arrives per HTTP chunk
    // and a heartbeat every 250 ms is plenty. Never throws: it runs inside response iterators, where
    // a throw would surface far from here. Cancellation reaches transfers through the signal.
    report(progress) {
      phase = progress.phase;
      const step = `${session.attempt}:${phase}`;
      const now = Date.now();
      if (step === lastStep && now - lastBeat < HEARTBEAT_INTERVAL_MS) return;
      [lastStep, lastBeat] = [step, now];
      input.heartbeat?.({ ...progress, attempt: session.attempt });
    },
  };
  return session;
}

/** Sent up front on every request: no anonymous round trip, and no prompt-style 401 dance. */
function basicAuthorization({ username, password }: GitCredentials): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function discoverRefs(session: Session): Promise<RemoteRefs> {
  session.report({ phase: 'discover' });
  const { baseBranch, branch } = session.input;
  const refs = await git.listServerRefs({
    http: session.http,
    url: session.url,
    // isomorphic-git adds to the headers object it is given; each call gets its own.
    headers: { ...session.headers },
    onAuth: () => session.input.credentials,
    // Asking receive-pack also proves early that these credentials may push.
    forPush: true,
    protocolVersion: 1,
  });
  const oidOf = (name: string): string | undefined => refs.find((ref) => ref.ref === `refs/heads/${name}`)?.oid;
  const base = oidOf(baseBranch);
  if (base === undefined) {
    throw ApplicationFailure.nonRetryable(`branch ${baseBranch} not found in ${session.shown}`, FailureType.baseBranchNotFound);
  }
  return { base, lease: oidOf(branch) ?? ZERO_OID };
}

function pushRejected(session: Session, reason: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `${session.shown} refused ${session.input.branch}: ${quoteAnswer(reason)}`,
    FailureType.gitPushRejected,
  );
}

async function prepare(session: Session, refs: RemoteRefs, gitdir: string): Promise<Preparation> {
  const objects = await fetchBase(session, refs.base);
  session.input.signal?.throwIfAborted();
  const scan = await scanRepository(session, objects, objects.commitTree(refs.base));
  if (scan.markers === 0) throw noMarker(session, scan.stray);
  if (scan.changed.length === 0) return { baseCommit: refs.base, alreadyAt: scan.markers };
  session.report({ phase: 'commit' });
  return commitChanges({ session, objects, gitdir, baseCommit: refs.base, changed: scan.changed });
}

/** The base commit's snapshot: shallow, single branch, no tags, no checkout, indexed in memory. */
async function fetchBase(session: Session, base: string): Promise<PackedObjects> {
  session.report({ phase: 'fetch' });
  const { http, url, headers, limits } = session;
  const pack = await fetchShallowPack({ http, url, headers, want: base, maxResponseBytes: limits.maxResponseBytes });
  return PackedObjects.index(pack, undefined, limits);
}

const YAML_FILE = /\.ya?ml$/i;
/** Files scanned between two looks at the event loop, so heartbeats and cancellation get through. */
const SCAN_SLICE = 500;

interface YamlFile {
  path: string;
  oid: string;
}

/**
 * The snapshot's YAML files, depth first in tree order. An explicit stack, so deep nesting cannot
 * exhaust the call stack, and a bound on the entries walked (see GitLimits.maxTreeEntries).
 */
function listYamlFiles(objects: PackedObjects, rootTree: string, maxEntries: number): YamlFile[] {
  const files: YamlFile[] = [];
  const stack: { entries: TreeEntry[]; next: number; prefix: string }[] = [{ entries: objects.readTree(rootTree), next: 0, prefix: '' }];
  let walked = 0;
  while (stack.length > 0) {
    const tree = stack[stack.length - 1]!;
    const entry = tree.entries[tree.next++];
    if (entry === undefined) {
      stack.pop();
      continue;
    }
    if (++walked > maxEntries) {
      throw new RefusedGitData(`its trees list more than ${maxEntries} entries (a subtree counts each time it appears)`, 'too-large');
    }
    const path = tree.prefix + entry.path;
    if (entry.type === 'tree') stack.push({ entries: objects.readTree(entry.oid), next: 0, prefix: `${path}/` });
    // Symlinks (120000) and submodules are not files whose bytes we could patch.
    else if (entry.type === 'blob' && entry.mode !== '120000' && YAML_FILE.test(entry.path)) files.push({ path, oid: entry.oid });
  }
  return files;
}

async function scanRepository(session: Session, objects: PackedObjects, rootTree: string): Promise<ScanOutcome> {
  const { reference, version } = session.input;
  const outcome: ScanOutcome = { changed: [], markers: 0, stray: [] };
  const files = listYamlFiles(objects, rootTree, session.limits.maxTreeEntries);
  for (const [index, file] of files.entries()) {
    if (index % SCAN_SLICE === 0) {
      session.report({ phase: 'scan' });
      await yieldToEventLoop();
      session.input.signal?.throwIfAborted();
    }
    const patch = patchFile(file.path, objects.read(file.oid).content, reference, version);
    outcome.markers += patch.markers.length;
    outcome.stray.push(...patch.stray.map((stray) => `${file.path}:${stray.line}`));
    if (patch.changed) outcome.changed.push({ path: file.path, content: patch.content });
  }
  return outcome;
}

/** A marked file that cannot be parsed, or a version that cannot be written, is for the user to fix. */
function patchFile(path: string, content: Buffer, reference: string, version: string): PatchedFile {
  try {
    return patchMarkers({ path, content, reference, version });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw ApplicationFailure.nonRetryable(message, FailureType.invalidPromotionMarker);
  }
}

function noMarker(session: Session, stray: readonly string[]): ApplicationFailure {
  const { reference, baseBranch } = session.input;
  const hint =
    stray.length === 0
      ? ''
      : `; marker comments for it that follow no value on their line: ${stray.slice(0, 10).join(', ')}${stray.length > 10 ? ', …' : ''}`;
  return ApplicationFailure.nonRetryable(
    `no $promotion marker for ${reference} in any *.yaml/*.yml file of ${session.shown} on branch ${baseBranch}${hint}`,
    FailureType.noPromotionMarker,
  );
}

interface CommitInput {
  session: Session;
  objects: PackedObjects;
  gitdir: string;
  baseCommit: string;
  changed: readonly ChangedFile[];
}

async function commitChanges({ session, objects, gitdir, baseCommit, changed }: CommitInput): Promise<PreparedCommit> {
  const written: string[] = [];
  const blobs = new Map<string, string>();
  for (const file of changed) {
    const oid = await git.writeBlob({ fs, gitdir, blob: file.content });
    blobs.set(file.path, oid);
    written.push(oid);
  }
  const tree = await rewriteTree({ objects, gitdir, treeOid: objects.commitTree(baseCommit), changes: blobs, written });
  const commit = await writeCommit(session, gitdir, tree, baseCommit);
  written.push(commit);
  const { packfile } = await git.packObjects({ fs, gitdir, oids: written });
  return { baseCommit, commit, pack: packfile!, changedFiles: changed.map((file) => file.path) };
}

interface TreeRewrite {
  objects: PackedObjects;
  gitdir: string;
  treeOid: string;
  /** Path relative to this tree → new blob oid. */
  changes: ReadonlyMap<string, string>;
  /** Collects every object written, which is everything the push must send. */
  written: string[];
}

/** Writes new trees only along the changed paths; every other entry keeps its oid. */
async function rewriteTree(rewrite: TreeRewrite): Promise<string> {
  const entries: TreeEntry[] = [];
  for (const entry of rewrite.objects.readTree(rewrite.treeOid)) {
    const below = changesBelow(rewrite.changes, entry.path);
    if (entry.type === 'tree' && below.size > 0) {
      entries.push({ ...entry, oid: await rewriteTree({ ...rewrite, treeOid: entry.oid, changes: below }) });
    } else {
      entries.push({ ...entry, oid: rewrite.changes.get(entry.path) ?? entry.oid });
    }
  }
  const oid = await git.writeTree({ fs, gitdir: rewrite.gitdir, tree: entries });
  rewrite.written.push(oid);
  return oid;
}

function changesBelow(changes: ReadonlyMap<string, string>, directory: string): Map<string, string> {
  const prefix = `${directory}/`;
  const below = new Map<string, string>();
  for (const [path, oid] of changes) if (path.startsWith(prefix)) below.set(path.slice(prefix.length), oid);
  return below;
}

async function writeCommit(session: Session, gitdir: string, tree: string, parent: string): Promise<string> {
  const { name, email } = session.input.author ?? DEFAULT_COMMIT_AUTHOR;
  const signature = { name, email, timestamp: Math.floor(Date.now() / 1000), timezoneOffset: 0 };
  return git.writeCommit({
    fs,
    gitdir,
    commit: { tree, parent: [parent], author: signature, committer: signature, message: session.input.message },
  });
}

/** Status codes of isomorphic-git's HttpError (also what receive-pack.ts throws). */
function httpStatus(error: unknown): number | undefined {
  if (error instanceof git.Errors.HttpError) return error.data.statusCode;
  return undefined;
}

/**
 * One place decides what retrying can fix: 401/403 and 404 cannot, the network and 5xx may, an
 * answer refused (malformed, too large, redirected elsewhere) would be refused again. Messages name
 * the repository by its redacted URL, never the password, and quote the server short and sanitised.
 */
function classifyError(error: unknown, session: Session<GitSessionInput>): unknown {
  // The transport's refusal wins even over what a library made of it (a parse error, a missing ref).
  const refused = error instanceof RefusedGitData ? error : session.http.refusal;
  if (refused !== undefined) {
    const message = `refusing the answer of the git server ${session.shown}: ${refused.message}`;
    return ApplicationFailure.nonRetryable(redact(message, session.input.credentials), FailureType.gitServerAnswerRefused);
  }
  if (error instanceof ApplicationFailure) return error;
  if (session.input.signal?.aborted) return session.input.signal.reason ?? error;
  const status = httpStatus(error);
  if (status === 401 || status === 403) {
    return ApplicationFailure.nonRetryable(
      `credentials rejected for ${session.shown} (HTTP ${status}): check the username/password of the pull-request Secret`,
      FailureType.gitCredentialsRejected,
    );
  }
  if (status === 404) {
    return ApplicationFailure.nonRetryable(
      `repository not found: ${session.shown} (HTTP 404; a private repository the credentials cannot see also answers 404)`,
      FailureType.repositoryNotFound,
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  // Redacted before quoting too: folding whitespace could otherwise hide a password from redact().
  const quoted = quoteAnswer(redact(detail, session.input.credentials));
  return new Error(redact(`git operation on ${session.shown} failed: ${quoted}`, session.input.credentials));
}

/** Belt and braces: no error message leaves with the password or the header carrying it. */
function redact(message: string, credentials: GitCredentials): string {
  const secrets = [credentials.password, basicAuthorization(credentials).slice('Basic '.length)].filter((s) => s.length > 0);
  return secrets.reduce((text, secret) => text.split(secret).join('***'), message);
}
