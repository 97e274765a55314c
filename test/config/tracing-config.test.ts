/** OTEL_EXPORTER_OTLP_ENDPOINT: the switch for tracing, checked at boot; where its traces go. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../config/config.js';
import { tracesUrl } from '../../config/tracing.js';
import { TRACING_WORKFLOW_MODULES } from '../../worker/tracing.js';
import { WORKFLOW_BUNDLES, WORKFLOWS_PATH, workflowSource } from '../../worker/worker.js';

describe('OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  test('unset: no tracing', () => {
    assert.equal(loadConfig({}).tracing, undefined);
  });

  test('an http(s) URL turns tracing on; traces go to its /v1/traces', () => {
    const config = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318/' });
    assert.deepEqual(config.tracing, { endpoint: 'http://otel-collector:4318/' });
    assert.equal(tracesUrl('http://otel-collector:4318/'), 'http://otel-collector:4318/v1/traces');
    assert.equal(tracesUrl('https://collector.example.com/otlp'), 'https://collector.example.com/otlp/v1/traces');
  });

  test('anything else stops the boot, quoting no credentials', () => {
    assert.throws(
      () => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4318' }),
      (error: unknown) => error instanceof ConfigError && /OTEL_EXPORTER_OTLP_ENDPOINT: .* is not an http\(s\) URL/.test(error.message),
    );
    assert.throws(
      () => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://user:secret@collector:4317' }),
      (error: unknown) => error instanceof ConfigError && !error.message.includes('secret'),
    );
  });
});

describe('the workflow source a worker picks', () => {
  test('prebuilt: the traced bundle when tracing, the plain one otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-bundles-'));
    try {
      writeFileSync(join(dir, WORKFLOW_BUNDLES.plain), '');
      writeFileSync(join(dir, WORKFLOW_BUNDLES.traced), '');
      assert.deepEqual(workflowSource({ traced: false, bundleDir: dir }), {
        workflowBundle: { codePath: join(dir, WORKFLOW_BUNDLES.plain) },
      });
      assert.deepEqual(workflowSource({ traced: true, bundleDir: dir }), {
        workflowBundle: { codePath: join(dir, WORKFLOW_BUNDLES.traced) },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('no bundle (tsx): the sources, with the tracing interceptor module only when tracing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-no-bundles-'));
    try {
      assert.deepEqual(workflowSource({ traced: false, bundleDir: dir }), {
        workflowsPath: WORKFLOWS_PATH,
        workflowInterceptorModules: [],
      });
      assert.deepEqual(workflowSource({ traced: true, bundleDir: dir }), {
        workflowsPath: WORKFLOWS_PATH,
        workflowInterceptorModules: TRACING_WORKFLOW_MODULES,
      });
      assert.match(TRACING_WORKFLOW_MODULES[0] ?? '', /interceptors-opentelemetry\/lib\/workflow-interceptors\.js$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
