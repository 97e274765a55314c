/**
 * `npm run build` into a temporary directory, then the compiled entry points run with plain `node`
 * as the image runs them: every runtime module and file is emitted, the compiled configuration
 * parses as the sources do, the gateway answers /healthz, and the worker polls a real Temporal dev
 * server from the prebuilt workflow bundle without ever resolving the bundler's SWC. With
 * OTEL_EXPORTER_OTLP_ENDPOINT both export one trace over OTLP/HTTP, the worker from the traced
 * bundle; without it neither loads any OpenTelemetry module.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../config/config.js';
import { startDevServer } from '../infra/temporal.js';
import { eventually } from '../support/eventually.js';
import { FIXTURES } from '../support/events.js';
import { freePort } from '../support/free-port.js';
import { startOtlpReceiver } from '../support/otlp-receiver.js';
import { sendFluxEvent } from '../support/send-flux-event.js';
import { buildInto, REPO, startWorker, type WorkerMode } from '../support/worker-start.js';
import { runtimeClosure } from './chart-files.js';

/**
 * Logs every module request naming SWC (the worker bundling at start resolves swc-loader and
 * @swc/core) or OpenTelemetry beyond its API (every OpenTelemetry package requires its siblings;
 * the API alone, a no-op without an SDK, is what prom-client requires).
 */
const MODULE_PROBE = `
const Module = require('node:module');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (/(^|\\/)(@swc\\/core|swc-loader)(\\/|$)/.test(request)) process.stderr.write('SWC RESOLVED ' + request + '\\n');
  if (/^@opentelemetry\\/(?!api$)|interceptors-opentelemetry\\/lib\\/(worker|client)/.test(request)) process.stderr.write('OTEL RESOLVED ' + request + '\\n');
  return resolveFilename.call(this, request, ...rest);
};
`;

void describe('npm run build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-build-'));
  let temporal: TestWorkflowEnvironment;

  before(async () => {
    const server = startDevServer();
    buildInto(dir);
    writeFileSync(join(dir, 'module-probe.cjs'), MODULE_PROBE);
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
    const plain = readFileSync(join(dir, 'workflow-bundle.js'), 'utf8');
    const traced = readFileSync(join(dir, 'workflow-bundle-traced.js'), 'utf8');
    assert.match(traced, /OpenTelemetryInboundInterceptor/, 'the traced bundle holds the tracing workflow interceptors');
    assert.doesNotMatch(plain, /OpenTelemetryInboundInterceptor/, 'the plain bundle holds no tracing');
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
        nodeArgs: ['--require', join(dir, 'module-probe.cjs')],
        env: { LOG_LEVEL: 'info' },
      });
      await worker.stop();
      return worker.stderr();
    };
    const compiled = await stderrOf({ kind: 'compiled', dir }, 'build-test-compiled');
    assert.doesNotMatch(compiled, /SWC RESOLVED/);
    assert.doesNotMatch(compiled, /Workflow bundle created/, 'the compiled worker does not bundle at start');
    assert.doesNotMatch(compiled, /OTEL RESOLVED/, 'without OTEL_EXPORTER_OTLP_ENDPOINT nothing of OpenTelemetry is loaded');
    // The probe's control: the same probe does see the bundler's SWC when the worker bundles.
    const tsx = await stderrOf({ kind: 'tsx' }, 'build-test-tsx');
    assert.match(tsx, /SWC RESOLVED/);
    assert.match(tsx, /Workflow bundle created/);
  });

  test('with OTEL_EXPORTER_OTLP_ENDPOINT the compiled gateway and worker export one trace over OTLP/HTTP', async () => {
    const receiver = await startOtlpReceiver();
    const port = await freePort();
    const taskQueue = 'build-test-traced';
    // Batches leave every 100 ms rather than every 5 s (OTEL_BSP_SCHEDULE_DELAY, read by the SDK).
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
    const worker = await startWorker({
      mode: { kind: 'compiled', dir },
      client: temporal.client,
      temporalAddress: temporal.address,
      taskQueue,
      nodeArgs: ['--require', join(dir, 'module-probe.cjs')],
      env: { ...otel, LOG_LEVEL: 'info' },
    });
    const gateway = spawn(process.execPath, ['--enable-source-maps', join(dir, 'gateway/server.js')], {
      cwd: REPO,
      env: {
        ...process.env,
        ...otel,
        TEMPORAL_ADDRESS: temporal.address,
        BATON_TASK_QUEUE: taskQueue,
        BATON_HOST: '127.0.0.1',
        BATON_PORT: String(port),
        BATON_PIPELINES_DIR: join(REPO, 'examples/pipelines'),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const gatewayExited = new Promise((resolve) => gateway.once('exit', resolve));
    try {
      const url = `http://127.0.0.1:${port}`;
      await eventually('the compiled gateway to answer', async () => (await fetch(`${url}/healthz`)).ok, 30_000);
      const sent = await sendFluxEvent(url, 'dev', FIXTURES.upgradeSucceeded);
      assert.equal(sent.status, 202);

      const promoted = await eventually('the promotion activity span', () =>
        receiver.spans.find((s) => s.name === 'RunActivity:promoteByNotification'),
      );
      const request = await eventually('the request span', () => receiver.spans.find((s) => s.name.startsWith('POST /promotion/')));
      assert.equal(request.service, 'baton-gateway');
      assert.equal(request.parentSpanId, '');
      const start = receiver.spans.find((s) => s.name === 'SignalWithStartWorkflow:release');
      assert.equal(start?.parentSpanId, request.spanId);
      assert.equal(promoted.service, 'baton-worker');
      assert.equal(promoted.traceId, request.traceId, 'the activity is in the trace of the request');
      // Made in the sandbox: only the traced bundle has the interceptors that make it.
      // It ends once the workflow has the activity's result, after the activity's own span.
      const scheduling = await eventually('the span of the workflow scheduling the activity', () =>
        receiver.spans.find((s) => s.spanId === promoted.parentSpanId),
      );
      assert.equal(scheduling.name, 'StartActivity:promoteByNotification');
      assert.equal(scheduling.service, 'baton-worker');
      assert.equal(scheduling.traceId, request.traceId);
      assert.deepEqual(receiver.unexpected, []);

      const stderr = worker.stderr();
      assert.match(stderr, /OTEL RESOLVED/);
      assert.doesNotMatch(stderr, /SWC RESOLVED/, 'the traced worker loads its prebuilt bundle too');
      assert.doesNotMatch(stderr, /Workflow bundle created/);
    } finally {
      gateway.kill('SIGTERM');
      await gatewayExited;
      await worker.stop();
      await receiver.close();
    }
  });
});
