/**
 * Debian's headless Chromium driven by playwright-core (no browser download: the binary comes from
 * scripts/setup-servers.sh). The flags keep it off the network this machine does not have; each
 * launch gets an empty profile. Screenshots go to test-artifacts/ui/, which CI keeps.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { serverBinary } from './binaries.js';

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-artifacts/ui/', import.meta.url));

const OFFLINE_FLAGS = [
  '--no-sandbox', // CI runs as root, where Chromium's sandbox refuses to start
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  page: Page;
  /** Saves the viewport as test-artifacts/ui/<name>.png and returns the path. */
  screenshot(name: string): Promise<string>;
  /** Runs `steps`; when they fail, saves what the page showed as `<name>-failed.png` first. */
  capturingFailure<T>(name: string, steps: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function startBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'baton-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: serverBinary('chromium'),
    headless: true,
    args: OFFLINE_FLAGS,
    viewport: { width: 1400, height: 1000 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  return {
    page,
    async screenshot(name) {
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    async capturingFailure(name, steps) {
      try {
        return await steps();
      } catch (error) {
        await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-failed.png`), fullPage: true }).catch(() => undefined);
        throw error;
      }
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
