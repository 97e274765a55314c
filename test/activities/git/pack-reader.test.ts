/** PackedObjects against packs written by git itself, with delta chains of both kinds. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { applyDelta, PackedObjects, parseTree } from '../../../activities/git/pack-reader.js';
import { RefusedGitData } from '../../../activities/git/refused-git-data.js';
import { craftPack, oidOf, PACK_TYPE } from './crafted-pack.js';

const run = promisify(execFile);
const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.test',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.test',
};

let repo: string;

async function git(args: string[], input?: string): Promise<Buffer> {
  const child = run('git', args, { cwd: repo, env: GIT_ENV, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  return (await child).stdout;
}

/** Every object of the repository, as `git cat-file` sees it. */
async function allObjects(): Promise<Map<string, { type: string; content: Buffer }>> {
  const listing = (await git(['rev-list', '--objects', '--all'])).toString('utf8');
  const objects = new Map<string, { type: string; content: Buffer }>();
  for (const oid of listing
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter(Boolean)) {
    const type = (await git(['cat-file', '-t', oid])).toString('utf8').trim();
    objects.set(oid, { type, content: await git(['cat-file', type, oid]) });
  }
  return objects;
}

/** A pack of every object, written by `git pack-objects` (ofs-deltas only with --delta-base-offset). */
async function packAll(offsetDeltas: boolean): Promise<Buffer> {
  const oids = (await git(['rev-list', '--objects', '--all'])).toString('utf8');
  const out = join(repo, offsetDeltas ? 'ofs' : 'ref');
  const args = ['pack-objects', '--window=50', '--depth=50', ...(offsetDeltas ? ['--delta-base-offset'] : []), out];
  const hash = (await git(args, oids)).toString('utf8').trim();
  return readFile(`${out}-${hash}.pack`);
}

before(async () => {
  repo = await mkdtemp(join(tmpdir(), 'baton-pack-'));
  await git(['init', '--quiet']);
  // Many similar HelmReleases, then a second version of some: git deltifies them into chains.
  for (let commit = 0; commit < 2; commit++) {
    for (let file = 0; file < 120; file += commit + 1) {
      const content = [
        'apiVersion: helm.toolkit.fluxcd.io/v2',
        'kind: HelmRelease',
        `metadata: {name: app-${file}, namespace: team-${file % 7}}`,
        `spec: {chart: {spec: {version: "1.${file % 5}.${(file + commit) % 11}"}}}`,
        `values: {image: {repository: ghcr.io/example/app-${file}}}`,
        '',
      ].join('\n');
      await mkdir(join(repo, `apps/team-${file % 4}`), { recursive: true });
      await writeFile(join(repo, `apps/team-${file % 4}/app-${file}.yaml`), content);
    }
    await git(['add', '--all']);
    await git(['commit', '--quiet', '--message', `commit ${commit}`]);
  }
});

after(async () => {
  await rm(repo, { recursive: true, force: true });
});

describe('PackedObjects', () => {
  for (const offsetDeltas of [true, false]) {
    test(`reads every object of a pack with ${offsetDeltas ? 'ofs' : 'ref'}-deltas exactly as git does`, async () => {
      const expected = await allObjects();
      const objects = PackedObjects.index(await packAll(offsetDeltas), 4096);
      assert.equal(objects.size, expected.size);
      for (const [oid, { type, content }] of expected) {
        const object = objects.read(oid);
        assert.equal(object.type, type, oid);
        assert.ok(object.content.equals(content), `content of ${oid}`);
      }
    });
  }

  test('the pack really has delta chains (otherwise the tests above prove little)', async () => {
    const pack = await packAll(true);
    const dir = join(repo, 'verify');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'p.pack'), pack);
    await git(['index-pack', join(dir, 'p.pack')]);
    const verify = (await git(['verify-pack', '-v', join(dir, 'p.idx')])).toString('utf8');
    assert.match(verify, /chain length = [2-9]: \d+ object/);
  });

  test('commitTree and readTree follow a commit to its entries', async () => {
    const objects = PackedObjects.index(await packAll(true));
    const head = (await git(['rev-parse', 'HEAD'])).toString('utf8').trim();
    const tree = objects.commitTree(head);
    assert.equal(tree, (await git(['rev-parse', 'HEAD^{tree}'])).toString('utf8').trim());
    assert.deepEqual(
      objects.readTree(tree).map((entry) => [entry.path, entry.type, entry.mode]),
      [['apps', 'tree', '40000']],
    );
    assert.equal(parseTree(Buffer.alloc(0)).length, 0);
  });

  test('applyDelta copies and inserts', () => {
    const base = Buffer.from('hello world');
    // source size 11, target size 9; copy offset 6 size 5 ("world"), insert "!!!!".
    const delta = Buffer.from([11, 9, 0x80 | 0x01 | 0x10, 6, 5, 4, ...Buffer.from('!!!!')]);
    assert.equal(applyDelta(base, delta).toString(), 'world!!!!');
  });

  test('bytes that are not a pack are refused', () => {
    assert.throws(() => PackedObjects.index(Buffer.from('not a pack at all')), /not a git packfile/);
  });
});

describe('malformed trees', () => {
  const oid = Buffer.alloc(20, 0xab);
  const valid = Buffer.concat([Buffer.from('100644 a.yaml\0'), oid]);
  // The shapes that used to reset the position and fill the heap, and their neighbours.
  const cases: Record<string, Buffer> = {
    'an entry without a space': Buffer.concat([valid, Buffer.from('100644-no-space-and-no-nul-at-all-here-xx')]),
    'an entry without a NUL': Buffer.concat([valid, Buffer.from('100644 name-without-nul')]),
    'an object id cut short': Buffer.concat([Buffer.from('100644 a\0'), oid.subarray(0, 7)]),
    'an empty name': Buffer.concat([Buffer.from('100644 \0'), oid]),
    'an unknown mode': Buffer.concat([Buffer.from('777 a\0'), oid]),
    'a name with a slash': Buffer.concat([Buffer.from('100644 a/b\0'), oid]),
  };
  for (const [name, content] of Object.entries(cases)) {
    test(`${name}: a clear error, not a loop`, () => {
      assert.throws(
        () => parseTree(content, 'deadbeef'),
        (error: unknown) =>
          error instanceof RefusedGitData && error.reason === 'malformed' && /git tree deadbeef is malformed/.test(error.message),
      );
    });
  }

  test('the 58-byte tree of a hostile server fails when read through the pack, naming the tree', () => {
    const tree = Buffer.concat([valid, Buffer.from('100644 no-nul-in-this-on')]);
    assert.equal(tree.length, 58);
    const pack = PackedObjects.index(craftPack([{ type: PACK_TYPE.tree, data: tree }]));
    const treeOid = oidOf('tree', tree);
    assert.throws(() => pack.readTree(treeOid), new RegExp(`git tree ${treeOid} is malformed`));
  });

  test('zero-padded and executable modes are still read', () => {
    const tree = Buffer.concat([Buffer.from('040000 dir\0'), oid, Buffer.from('100755 run.sh\0'), oid, Buffer.from('160000 sub\0'), oid]);
    assert.deepEqual(
      parseTree(tree).map((entry) => [entry.path, entry.type]),
      [
        ['dir', 'tree'],
        ['run.sh', 'blob'],
        ['sub', 'commit'],
      ],
    );
  });
});
