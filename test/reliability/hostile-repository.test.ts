/**
 * Hostile repository content for the marker editor, through the whole git step against a real git
 * server: a YAML alias bomb, a deeply nested document, a 10 MB file, binary files named `.yaml`,
 * symlinks pointing out of and into the repository, markers in files that are not YAML. Each
 * either promotes exactly the marked scalar (the hostile file untouched) or fails for good naming
 * the file, with nothing pushed. Time and the growth of the process's peak memory are reported.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { markerReference } from '../../activities/git/markers.js';
import {
  promoteInRepository,
  type PromoteInRepositoryInput,
  promotionBranchName,
  promotionCommitMessage,
} from '../../activities/git/repository.js';
import { FailureType } from '../../model/failures.js';
import { type GitServer, startGitServer } from '../infra/git-server.js';
import { mib, processMemory } from '../support/measured-processes.js';
import { applicationFailure } from '../support/failure.js';

const PIPELINE = { namespace: 'flux-system', name: 'podinfo' };
const REFERENCE = markerReference(PIPELINE, 'prod');
const BRANCH = promotionBranchName(PIPELINE, 'prod');
const MARKER = `# {"$promotion": "${REFERENCE}"}`;
const RELEASE_PATH = 'apps/podinfo/prod/release.yaml';
const RELEASE = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: podinfo-prod}
spec:
  chart:
    spec:
      version: "6.5.0" ${MARKER}
`;
/** What the process's peak resident set may grow by for one hostile repository. */
const PEAK_GROWTH_BOUND = 1024 * 1024 * 1024;

/** "Billion laughs": nine levels of nine aliases, 9^9 strings if anything expanded them. */
function aliasBomb(withMarker: boolean): string {
  const lines = ['a0: &a0 "lol"'];
  for (let level = 1; level <= 9; level++) {
    lines.push(`a${level}: &a${level} [${Array.from({ length: 9 }, () => `*a${level - 1}`).join(', ')}]`);
  }
  if (withMarker) lines.push(`version: 6.5.0 ${MARKER}`);
  lines.push('bomb: *a9');
  return `${lines.join('\n')}\n`;
}

let server: GitServer;
let repoSeq = 0;

before(async () => {
  server = await startGitServer();
});

after(async () => {
  await server.close();
});

/** A repository holding the marked release and `files` (path → content, or a symlink's target). */
async function repository(files: Record<string, string | Buffer | { symlinkTo: string }>): Promise<{ name: string; url: string }> {
  const seed = await mkdtemp(join(tmpdir(), 'baton-hostile-seed-'));
  try {
    const all: Record<string, string | Buffer | { symlinkTo: string }> = { [RELEASE_PATH]: RELEASE, ...files };
    for (const [path, content] of Object.entries(all)) {
      await mkdir(dirname(join(seed, path)), { recursive: true });
      if (typeof content !== 'string' && !Buffer.isBuffer(content)) await symlink(content.symlinkTo, join(seed, path));
      else await writeFile(join(seed, path), content);
    }
    const name = `hostile-${++repoSeq}`;
    return { name, url: await server.createRepository(name, seed) };
  } finally {
    await rm(seed, { recursive: true, force: true });
  }
}

function input(url: string): PromoteInRepositoryInput {
  return {
    url,
    baseBranch: 'main',
    branch: BRANCH,
    credentials: server.credentials,
    allowInsecureHttp: true,
    reference: REFERENCE,
    version: '6.7.1',
    message: promotionCommitMessage({ pipeline: PIPELINE, environment: 'prod', version: '6.7.1', workflowId: 'release/x' }),
  };
}

/** Runs the step, reporting its time and how much the process's peak memory grew. */
async function measured<T>(t: TestContext, step: () => Promise<T>): Promise<T> {
  const before = await processMemory(process.pid);
  const started = performance.now();
  try {
    return await step();
  } finally {
    const after = await processMemory(process.pid);
    const growth = after.peakRssBytes - before.peakRssBytes;
    t.diagnostic(`${Math.round(performance.now() - started)} ms, peak resident set +${mib(growth)} (now ${mib(after.peakRssBytes)})`);
    assert.ok(growth < PEAK_GROWTH_BOUND, `the peak resident set grew by ${mib(growth)}`);
  }
}

/** Pushed, with exactly the marked release changed and every other file (symlinks included) as it was. */
async function assertOnlyReleasePromoted(name: string, result: unknown): Promise<void> {
  assert.equal((result as { status: string }).status, 'pushed');
  assert.deepEqual((result as { changedFiles: string[] }).changedFiles, [RELEASE_PATH]);
  const diff = await server.git(name, ['diff', '--name-status', 'main', BRANCH]);
  assert.equal(diff.trim(), `M\t${RELEASE_PATH}`);
  assert.match((await server.readBranch(name, BRANCH)).get(RELEASE_PATH)?.toString() ?? '', /version: "6\.7\.1" # /);
}

async function assertNothingPushed(name: string): Promise<void> {
  assert.equal(await server.branchCommit(name, BRANCH), undefined, 'nothing was pushed');
}

describe('hostile repository content for the marker editor', () => {
  test('a YAML alias bomb without a marker is never parsed; with one, aliases are not expanded and only the marked scalars change', async (t) => {
    const { name, url } = await repository({ 'apps/bomb.yaml': aliasBomb(false), 'apps/marked-bomb.yaml': aliasBomb(true) });
    const result = await measured(t, () => promoteInRepository(input(url)));
    assert.equal((result as { status: string }).status, 'pushed');
    assert.deepEqual([...(result as { changedFiles: string[] }).changedFiles].sort(), ['apps/marked-bomb.yaml', RELEASE_PATH]);
    const bomb = (await server.readBranch(name, BRANCH)).get('apps/marked-bomb.yaml')?.toString();
    assert.equal(bomb, aliasBomb(true).replace('version: 6.5.0', 'version: 6.7.1'));
  });

  test('a document nested 100,000 levels deep that holds a marker fails for good, naming the file; nothing is pushed', async (t) => {
    const depth = 100_000;
    const nested = `deep: ${'['.repeat(depth)}1${']'.repeat(depth)}\nversion: 6.5.0 ${MARKER}\n`;
    const { name, url } = await repository({ 'apps/deep.yaml': nested });
    const error = await measured(t, () => applicationFailure(promoteInRepository(input(url))));
    assert.equal(error.type, FailureType.invalidPromotionMarker);
    assert.equal(error.nonRetryable, true);
    assert.match(error.message, /^apps\/deep\.yaml: /);
    t.diagnostic(error.message);
    await assertNothingPushed(name);
  });

  test('a block document nested 5,000 levels deep that holds a marker fails for good, naming the file; nothing is pushed', async (t) => {
    const lines = Array.from({ length: 5000 }, (_, i) => `${' '.repeat(i)}k${i}:`);
    lines.push(`${' '.repeat(5000)}version: 6.5.0 ${MARKER}`);
    const { name, url } = await repository({ 'apps/block-deep.yaml': `${lines.join('\n')}\n` });
    const error = await measured(t, () => applicationFailure(promoteInRepository(input(url))));
    assert.equal(error.type, FailureType.invalidPromotionMarker);
    assert.match(error.message, /^apps\/block-deep\.yaml: not valid YAML: /);
    await assertNothingPushed(name);
  });

  test('a 10 MB YAML file with a marker is promoted like any other', async (t) => {
    const entries = Array.from({ length: 200_000 }, (_, i) => `  key-${i}: value-${'x'.repeat(30)}-${i}`);
    const big = `data:\n${entries.join('\n')}\nversion: 6.5.0 ${MARKER}\n`;
    assert.ok(big.length > 10_000_000);
    const { name, url } = await repository({ 'apps/big.yaml': big });
    const result = await measured(t, () => promoteInRepository(input(url)));
    assert.deepEqual([...(result as { changedFiles: string[] }).changedFiles].sort(), ['apps/big.yaml', RELEASE_PATH]);
    const promoted = (await server.readBranch(name, BRANCH)).get('apps/big.yaml')?.toString();
    assert.equal(promoted, big.replace('version: 6.5.0', 'version: 6.7.1'));
  });

  test('a binary file named .yaml: ignored without a marker; with the marker bytes, a failure naming it and nothing pushed', async (t) => {
    const noise = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919 + 13) % 256));
    const ignored = await repository({ 'charts/podinfo.tgz.yaml': noise });
    await assertOnlyReleasePromoted(ignored.name, await measured(t, () => promoteInRepository(input(ignored.url))));

    const marked = await repository({ 'charts/blob.yaml': Buffer.concat([noise, Buffer.from(`\nversion: 6.5.0 ${MARKER}\n`), noise]) });
    const error = await measured(t, () => applicationFailure(promoteInRepository(input(marked.url))));
    assert.equal(error.type, FailureType.invalidPromotionMarker);
    assert.equal(error.nonRetryable, true);
    assert.equal(error.message, 'charts/blob.yaml: holds a $promotion marker but is not valid UTF-8');
    await assertNothingPushed(marked.name);
  });

  test('symlinks named .yaml, to files outside the repository and to the marked file inside it, are neither read nor followed', async (t) => {
    const { name, url } = await repository({
      'apps/passwd.yaml': { symlinkTo: '/etc/passwd' },
      'apps/outside.yaml': { symlinkTo: '../../../../../../../../tmp/marker.yaml' },
      'apps/alias-of-release.yaml': { symlinkTo: 'podinfo/prod/release.yaml' },
      'linked-apps': { symlinkTo: 'apps' },
    });
    const result = await measured(t, () => promoteInRepository(input(url)));
    await assertOnlyReleasePromoted(name, result);
    const modes = await server.git(name, ['ls-tree', '-r', BRANCH]);
    for (const link of ['apps/passwd.yaml', 'apps/outside.yaml', 'apps/alias-of-release.yaml', 'linked-apps']) {
      assert.match(modes, new RegExp(`^120000 blob [0-9a-f]+\\t${link}$`, 'm'), `${link} is still a symlink`);
    }
  });

  test('markers in files that are not *.yaml/*.yml are never touched', async (t) => {
    const marked = `version: 6.5.0 ${MARKER}\n`;
    const { name, url } = await repository({
      'README.md': marked,
      'charts/values.json': `{"version": "6.5.0"} ${MARKER}\n`,
      'charts/values.yaml.tmpl': marked,
      'apps/release.YAML.bak': marked,
      'apps/no-extension': marked,
    });
    await assertOnlyReleasePromoted(name, await measured(t, () => promoteInRepository(input(url))));
  });
});
