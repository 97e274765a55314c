// `npm start` and `npm test` on a fresh clone: installs the locked dependencies first when
// node_modules is missing or older than package-lock.json. Plain JS: it runs before they exist.
import { execSync } from 'node:child_process';
import { statSync } from 'node:fs';

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
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit' });
}
