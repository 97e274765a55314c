/** `baton markers`, run the way users run it: the package's bin, as a subprocess. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

const BIN = fileURLToPath(new URL('../../cli/baton.mjs', import.meta.url));

const FILES: Record<string, string> = {
  'apps/podinfo/prod.yaml': 'spec:\n  chart:\n    spec:\n      version: 6.5.0 # {"$promotion": "flux-system:podinfo:prod"}\n',
  'apps/podinfo/values.yml':
    'image:\n  tag: \'6.5.0\' # {\'$promotion\': \'flux-system:podinfo:prod\'}\n  pullPolicy: IfNotPresent\n---\nother: "1.0.0" # {"$promotion": "flux-system:podinfo:staging"}\n',
  'apps/other.yaml': 'plain: file\n',
  'notes.txt': 'version: 1.0.0 # {"$promotion": "flux-system:podinfo:prod"}\n',
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function baton(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;

async function writeFiles(files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-cli-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('baton markers', () => {
  test('lists file:line:column and the current value of every marker for the reference', async () => {
    await writeFiles(FILES);
    const run = await baton(['markers', dir, '--ref', 'flux-system:podinfo:prod']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'apps/podinfo/prod.yaml:4:16: 6.5.0\napps/podinfo/values.yml:2:8: 6.5.0\n');
    assert.match(run.stderr, /2 marker\(s\) for flux-system:podinfo:prod in 2 file\(s\)/);
    assert.equal(await readFile(join(dir, 'apps/podinfo/prod.yaml'), 'utf8'), FILES['apps/podinfo/prod.yaml']);
  });

  test('exits non-zero when there is no marker for the reference', async () => {
    const run = await baton(['markers', dir, '--ref', 'flux-system:podinfo:qa']);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /no \$promotion marker for flux-system:podinfo:qa/);
  });

  test('--set rewrites the marked values in place and prints a unified diff', async () => {
    await writeFiles(FILES);
    const run = await baton(['markers', dir, '--ref', 'flux-system:podinfo:prod', '--set', '6.7.1']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      [
        'apps/podinfo/prod.yaml:4:16: 6.5.0 -> 6.7.1',
        'apps/podinfo/values.yml:2:8: 6.5.0 -> 6.7.1',
        '--- a/apps/podinfo/prod.yaml',
        '+++ b/apps/podinfo/prod.yaml',
        '@@ -1,4 +1,4 @@',
        ' spec:',
        '   chart:',
        '     spec:',
        '-      version: 6.5.0 # {"$promotion": "flux-system:podinfo:prod"}',
        '+      version: 6.7.1 # {"$promotion": "flux-system:podinfo:prod"}',
        '--- a/apps/podinfo/values.yml',
        '+++ b/apps/podinfo/values.yml',
        '@@ -1,5 +1,5 @@',
        ' image:',
        "-  tag: '6.5.0' # {'$promotion': 'flux-system:podinfo:prod'}",
        "+  tag: '6.7.1' # {'$promotion': 'flux-system:podinfo:prod'}",
        '   pullPolicy: IfNotPresent',
        ' ---',
        ' other: "1.0.0" # {"$promotion": "flux-system:podinfo:staging"}',
        '',
      ].join('\n'),
    );
    assert.equal(await readFile(join(dir, 'apps/podinfo/prod.yaml'), 'utf8'), FILES['apps/podinfo/prod.yaml']!.replace('6.5.0', '6.7.1'));
    assert.equal(await readFile(join(dir, 'notes.txt'), 'utf8'), FILES['notes.txt'], 'only YAML files are touched');

    const again = await baton(['markers', dir, '--ref', 'flux-system:podinfo:prod', '--set', '6.7.1']);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, 'apps/podinfo/prod.yaml:4:16: 6.7.1\napps/podinfo/values.yml:2:8: 6.7.1\n');
    assert.match(again.stderr, /0 file\(s\) changed/);
  });

  test('a marked file that does not parse: named, exit 1, and nothing is written', async () => {
    await writeFiles(FILES);
    await writeFiles({ 'apps/broken.yaml': 'a: 1 # {"$promotion": "flux-system:podinfo:prod"}\nb: [\n' });
    const run = await baton(['markers', dir, '--ref', 'flux-system:podinfo:prod', '--set', '6.7.1']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /error: apps\/broken\.yaml: not valid YAML/);
    assert.equal(await readFile(join(dir, 'apps/podinfo/prod.yaml'), 'utf8'), FILES['apps/podinfo/prod.yaml']);
    await rm(join(dir, 'apps/broken.yaml'));
  });

  test('usage errors exit 2 with the usage text', async () => {
    const missingRef = await baton(['markers', dir]);
    assert.equal(missingRef.code, 2);
    assert.match(missingRef.stderr, /usage: baton markers <dir> --ref/);
    const unknownCommand = await baton(['frobnicate']);
    assert.equal(unknownCommand.code, 2);
    assert.match(unknownCommand.stderr, /unknown command frobnicate/);
    const help = await baton(['markers', '--help']);
    assert.equal(help.code, 0);
  });
});
