/**
 * `npm run build [-- --out-dir <dir>]`: the gateway and the worker as plain JavaScript, runnable
 * with `node` alone (what the image runs). Into the output directory (default dist/):
 * - tsc's ESM output of the runtime folders (tsconfig.build.json), with source maps;
 * - workflow-bundle.js, the workflows bundled once here, which the compiled worker loads instead
 *   of bundling with webpack and SWC at every start, and workflow-bundle-traced.js, the same with
 *   the OpenTelemetry workflow interceptors, which it loads when tracing;
 * - deploy/crds, which pipelines/validate.ts reads relative to itself;
 * - a package.json marking the .js files as ES modules, so the directory runs wherever it is put.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import { TRACING_WORKFLOW_MODULES } from '../worker/tracing.js';
import { WORKFLOW_BUNDLES } from '../worker/worker.js';

const REPO = resolve(import.meta.dirname, '..');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

export async function build(outDir: string): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  execFileSync(process.execPath, [TSC, '-p', join(REPO, 'tsconfig.build.json'), '--outDir', outDir], { cwd: REPO, stdio: 'inherit' });
  cpSync(join(REPO, 'deploy/crds'), join(outDir, 'deploy/crds'), { recursive: true });
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`);
  // From the TypeScript sources, as the worker bundles them at start under tsx: the same input and
  // options give the same workflow code, and packages resolve from the repository's node_modules.
  for (const traced of [false, true]) {
    const { code } = await bundleWorkflowCode({
      workflowsPath: join(REPO, 'workflows/index.ts'),
      workflowInterceptorModules: traced ? [...TRACING_WORKFLOW_MODULES] : [],
      logger: quietLogger(),
    });
    writeFileSync(join(outDir, traced ? WORKFLOW_BUNDLES.traced : WORKFLOW_BUNDLES.plain), code);
  }
}

/** The bundler logs every module at info: only its warnings and errors are worth printing. */
function quietLogger(): NonNullable<Parameters<typeof bundleWorkflowCode>[0]['logger']> {
  const print = (level: string) => (message: string, meta?: Record<string, unknown>) =>
    console.error(`[build] ${level} ${message}${meta === undefined ? '' : ` ${JSON.stringify(meta)}`}`);
  const ignore = (): void => undefined;
  return { log: ignore, trace: ignore, debug: ignore, info: ignore, warn: print('warn'), error: print('error') };
}

const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: join(REPO, 'dist') } } });
const outDir = resolve(values['out-dir']);
const started = performance.now();
await build(outDir);
console.error(`[build] ${outDir} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
