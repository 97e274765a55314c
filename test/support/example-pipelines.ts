/**
 * The example Pipelines (examples/pipelines/) as tests that run whole journeys use them: with every
 * change window open at all hours. The example's prod window is working hours in Berlin, so as it
 * is, a journey would promote into prod or wait for Monday depending on when the test runs;
 * test/workflows/change-window.test.ts is where windows are tested, on a clock the test sets.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXAMPLES = fileURLToPath(new URL('../../examples/pipelines/', import.meta.url));

export const ALWAYS_OPEN_WINDOW = 'Mon-Sun 00:00-24:00 UTC';

/** A Pipeline manifest (YAML text) with each `promotion.baton.dev/window.<env>` annotation open at all hours. */
export function openWindows(manifest: string): string {
  return manifest.replace(/^(\s+promotion\.baton\.dev\/window\.[^:\s]+:).*$/gm, `$1 '${ALWAYS_OPEN_WINDOW}'`);
}

/** A copy of examples/pipelines/ with open windows; remove it when done. */
export async function examplePipelinesWithOpenWindows(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'baton-examples-'));
  for (const file of await readdir(EXAMPLES)) {
    await writeFile(join(path, file), openWindows(await readFile(join(EXAMPLES, file), 'utf8')));
  }
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
