/**
 * `npm run build` into a temporary directory, then the compiled entry points run with plain `node`
 * as the image runs them: every runtime module and file is emitted, the compiled configuration
 * parses as the sources do, the gateway answers /healthz, and the worker polls a real Temporal dev
 * server from the prebuilt workflow bundle without ever resolving the bundler's SWC.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../config/config.js';
import { startDevServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/free-port.js';
import { buildInto, REPO, startWorker, type WorkerMode } from '../support/worker-start.js';
import { runtimeClosure } from './chart-files.js';

/** Logs every module request naming SWC: the worker bundling at start resolves swc-loader and @swc/core. */
const SWC_PROBE = `
const Module = require('node:module');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (/(^|\\/)(@swc\\/core|swc-loader)(\\/|$)/.test(request)) process.stderr.write('SWC RESOLVED ' + request + '\\n');
  return resolveFilename.call(this, request, ...rest);
};
`;

void describe('npm run build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-build-'));
  let temporal: TestWorkflowEnvironment;

  before(async () => {
    const server = startDevServer();
    buildInto(dir);
    writeFileSync(join(dir, 'swc-probe.cjs'), SWC_PROBE);
    temporal = await server;
  });
  after(async () => {
    await temporal?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  test('emits a module for every runtime source, the CRD, the workflow bundle and an ES-module package.json', () => {
    const { files } = runtimeClosure(['gateway/server.ts', 'worker/main.ts', 'workflows/index.ts']);
    const expected = [...files].map((file) => relative(REPO, file).replace(/\.ts$/, '.js'));
    assert.deepEqual(
      expected.filter((file) => !existsSync(join(dir, file))),
      [],
      'runtime files the build does not emit',
    );
    assert.ok(existsSync(join(dir, 'workflow-bundle.js')));
    assert.ok(existsSync(join(dir, 'gateway/server.js.map')), 'source maps for --enable-source-maps');
    const script = `import(${JSON.stringify(join(dir, 'package.json'))}, { with: { type: 'json' } }).then((m) => console.log(m.default.type))`;
    assert.equal(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim(), 'module');
  });

  test('the compiled configuration parses an environment as the sources do', () => {
    const env = { BATON_GIT_HOSTS: 'git.example.com,*.example.org', BATON_RETRY_MAX_ATTEMPTS: '5', TEMPORAL_TLS: 'true' };
    const script = `import(${JSON.stringify(join(dir, 'config/config.js'))}).then((m) => console.log(JSON.stringify(m.loadConfig(${JSON.stringify(env)}))))`;
    const compiled = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as unknown;
    assert.deepEqual(compiled, JSON.parse(JSON.stringify(loadConfig(env))));
  });

  test('the compiled gateway starts with plain node and answers /healthz', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--enable-source-maps', join(dir, 'gateway/server.js')], {
      cwd: REPO,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: temporal.address,
        BATON_HOST: '127.0.0.1',
        BATON_PORT: String(port),
        BATON_PIPELINES_DIR: join(REPO, 'examples/pipelines'),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const status = await eventually(
        'the compiled gateway to answer',
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status,
        30_000,
      );
      assert.equal(status, 200);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('the compiled worker polls from the prebuilt bundle, never resolving SWC, where the tsx worker bundles with it', async () => {
    const stderrOf = async (mode: WorkerMode, taskQueue: string): Promise<string> => {
      const worker = await startWorker({
        mode,
        client: temporal.client,
        temporalAddress: temporal.address,
        taskQueue,
        nodeArgs: ['--require', join(dir, 'swc-probe.cjs')],
        env: { LOG_LEVEL: 'info' },
      });
      await worker.stop();
      return worker.stderr();
    };
    const compiled = await stderrOf({ kind: 'compiled', dir }, 'build-test-compiled');
    assert.doesNotMatch(compiled, /SWC RESOLVED/);
    assert.doesNotMatch(compiled, /Workflow bundle created/, 'the compiled worker does not bundle at start');
    // The probe's control: the same probe does see the bundler's SWC when the worker bundles.
    const tsx = await stderrOf({ kind: 'tsx' }, 'build-test-tsx');
    assert.match(tsx, /SWC RESOLVED/);
    assert.match(tsx, /Workflow bundle created/);
  });
});
