/**
 * The example Pipelines (examples/pipelines/) as tests that run whole journeys use them: with every
 * change window open at all hours. The example's prod window is working hours in Berlin, so as it
 * is, a journey would promote into prod or wait for Monday depending on when the test runs;
 * test/workflows/change-window.test.ts is where windows are tested, on a clock the test sets.
 * The example verifies test against `npm start`'s gateway: a journey with a gateway of its own
 * points the check there, one without removes it (test/workflows/verification.test.ts is where
 * verification is tested).
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

/** Where the example's verification checks `npm start`'s gateway. */
const EXAMPLE_GATEWAY = 'http://127.0.0.1:8082';

/** A Pipeline manifest without its `promotion.baton.dev/verify.<env>` annotations (the example's are one line each). */
export function withoutVerification(manifest: string): string {
  return manifest.replace(/^\s+promotion\.baton\.dev\/verify\.[^:\s]+:.*\n/gm, '');
}

/**
 * A copy of examples/pipelines/ with open windows, its verification pointed at `gatewayUrl` (none:
 * removed); remove it when done.
 */
export async function examplePipelinesWithOpenWindows(gatewayUrl?: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'baton-examples-'));
  for (const file of await readdir(EXAMPLES)) {
    const manifest = openWindows(await readFile(join(EXAMPLES, file), 'utf8'));
    await writeFile(
      join(path, file),
      gatewayUrl === undefined ? withoutVerification(manifest) : manifest.replaceAll(EXAMPLE_GATEWAY, gatewayUrl.replace(/\/+$/, '')),
    );
  }
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
