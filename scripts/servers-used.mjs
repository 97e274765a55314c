// Prints the server components (`serverBinary('name')` in test/infra/binaries.ts) that the given
// test files can reach through their relative imports, one per line, so scripts/test.sh prepares
// only those. A static over-approximation: a module counts whether or not the test calls it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g;
const SERVER = /serverBinary\(\s*'([a-z-]+)'\s*\)/g;

/** `./x.js` names the TypeScript source `./x.ts`. */
function sourceOf(path) {
  const ts = path.replace(/\.js$/, '.ts');
  return [ts, path].find((candidate) => existsSync(candidate));
}

const pending = process.argv.slice(2).map((file) => resolve(file));
const seen = new Set();
const components = new Set();
while (pending.length > 0) {
  const file = sourceOf(pending.pop());
  if (file === undefined || seen.has(file) || file.includes('/node_modules/')) continue;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const [, name] of text.matchAll(SERVER)) components.add(name);
  for (const [, specifier] of text.matchAll(IMPORT)) pending.push(resolve(dirname(file), specifier));
}
for (const name of [...components].sort()) console.log(name);
