// `npm start` and `npm test` on a fresh clone: installs the locked dependencies first when
// node_modules is missing or older than package-lock.json. Plain JS: it runs before they exist.
import { execSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { ensurePinnedNode, needsPinnedNode, withNodeOnPath } from './use-node.mjs';

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};

const installed = mtime('node_modules/.package-lock.json');
if (installed === undefined || installed < (mtime('package-lock.json') ?? 0)) {
  // `npm ci` installs exactly the lock file and never rewrites it, so a checkout stays clean.
  console.error('[baton] installing the locked npm dependencies…');
  // Under the Node the project then runs on (scripts/use-node.mjs), as its engines field asks.
  const env = needsPinnedNode(process.versions.node) ? withNodeOnPath(ensurePinnedNode()) : process.env;
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit', env });
}
