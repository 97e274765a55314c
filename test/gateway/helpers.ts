/** Shared by the gateway tests: signed deliveries, Pipelines on disk, apps and captured logs. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { pino, type Logger } from 'pino';
import { parse, stringify } from 'yaml';
import { defaultConfig } from '../../config/config.js';
import { buildApp, type GatewayAppConfig } from '../../gateway/app.js';
import type { SignatureAlgorithm } from '../../gateway/hmac.js';
import type { Approval, ReleaseApprover } from '../../gateway/release-approver.js';
import type { ReleaseStarter } from '../../gateway/release-starter.js';
import { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import type { PipelineSource } from '../../pipelines/source.js';
import { fluxHeaders } from '../support/signing.js';
import type { PromotionControls } from '../../gateway/promotion-controls.js';
import type { RollbackStarter } from '../../gateway/rollback-starter.js';

export const EXAMPLE_PIPELINES_DIR = fileURLToPath(new URL('../../examples/pipelines/', import.meta.url));

export const PODINFO = '/promotion/flux-system/podinfo-02';

/** A signed Flux delivery, as notification-controller's generic-hmac Provider sends it. */
export function delivery(
  url: string,
  body: Buffer,
  options: { algorithm?: SignatureAlgorithm; key?: string; headers?: Record<string, string> } = {},
): InjectOptions {
  return {
    method: 'POST',
    url,
    headers: { ...fluxHeaders(body, options), ...options.headers },
    payload: body,
  };
}

export function testConfig(overrides: Partial<GatewayAppConfig> = {}): GatewayAppConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    rateLimit: { max: 10_000, windowMs: 30_000 },
    trustedProxies: [],
    allowUnsigned: false,
    legacyApprovalSignature: false,
    promotingReasons: defaultConfig().gateway.promotingReasons,
    signalTimeoutMs: 5_000,
    temporal: { namespace: 'default', uiUrl: 'http://localhost:8233' },
    ...overrides,
  };
}

/** A pino logger writing JSON lines into memory, so tests can read what the gateway logged. */
export function captureLogs(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  const text = () => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

export async function directorySource(directory: string, logger: Logger = pino({ level: 'silent' })): Promise<DirectoryPipelineSource> {
  const source = new DirectoryPipelineSource(directory, logger);
  await source.start();
  return source;
}

/** A temporary directory of manifests (each value: documents of one file); remove it when done. */
export async function manifestDirectory(files: Record<string, object[]>): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'baton-gateway-test-'));
  for (const [name, documents] of Object.entries(files)) {
    await writeFile(join(path, name), documents.map((doc) => stringify(doc)).join('---\n'));
  }
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** The podinfo-02 Pipeline of examples/, under another name, with `change` applied to its spec. */
export function podinfoVariant(name: string, change: (spec: PodinfoSpec) => void): object {
  const manifest = parse(readFileSync(join(EXAMPLE_PIPELINES_DIR, 'podinfo-02.yaml'), 'utf8')) as {
    metadata: { name: string };
    spec: PodinfoSpec;
  };
  manifest.metadata.name = name;
  change(manifest.spec);
  return manifest;
}

export interface PodinfoSpec {
  environments: { name: string; targets: { namespace: string }[]; promotion?: unknown }[];
  promotion?: { manual?: boolean; strategy: Record<string, unknown> };
}

export const webhookSecret = (name: string, data: Record<string, string>): object => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'flux-system' },
  stringData: data,
});

/** A starter for tests whose requests must never reach Temporal: fails the request loudly if they do. */
export function unreachableStarter(): ReleaseStarter & { calls: number } {
  const starter = {
    calls: 0,
    deliver() {
      starter.calls += 1;
      return Promise.reject(new Error('this test must not deliver anything to Temporal'));
    },
    deliverFailure() {
      starter.calls += 1;
      return Promise.reject(new Error('this test must not deliver anything to Temporal'));
    },
    checkReachable: () => Promise.resolve(),
    drain: () => Promise.resolve(),
  };
  return starter;
}

/** An approver for tests whose requests must never reach Temporal: fails the request loudly if they do. */
export function unreachableApprover(): ReleaseApprover & { calls: number } {
  const approver = {
    calls: 0,
    approve() {
      approver.calls += 1;
      return Promise.reject(new Error('this test must not approve anything in Temporal'));
    },
    drain: () => Promise.resolve(),
  };
  return approver;
}

/** An approver that records what it was asked to approve and answers as if the workflow agreed. */
export function recordingApprover(): ReleaseApprover & { received: Approval[] } {
  const approver = {
    received: [] as Approval[],
    approve(approval: Approval) {
      approver.received.push(approval);
      const { pipeline, version, environment, approver: who, comment } = approval;
      return Promise.resolve({
        workflowId: `release/${pipeline.namespace}/${pipeline.name}/${version}`,
        decision: {
          decision: 'approved' as const,
          environment,
          approver: who,
          ...(comment === undefined ? {} : { comment }),
          at: new Date().toISOString(),
        },
      });
    },
    drain: () => Promise.resolve(),
  };
  return approver;
}

/** Wraps a starter and counts deliveries, to prove a request did not touch any workflow. */
export function countingStarter(inner: ReleaseStarter): ReleaseStarter & { calls: number; failureDeliveries: number } {
  const starter = {
    calls: 0,
    deliver(delivery: Parameters<ReleaseStarter['deliver']>[0]) {
      starter.calls += 1;
      return inner.deliver(delivery);
    },
    /** Counted apart: a failure event must never start a release. */
    failureDeliveries: 0,
    deliverFailure(delivery: Parameters<ReleaseStarter['deliverFailure']>[0]) {
      starter.failureDeliveries += 1;
      return inner.deliverFailure(delivery);
    },
    checkReachable: (timeoutMs: number) => inner.checkReachable(timeoutMs),
    drain: (timeoutMs: number) => inner.drain(timeoutMs),
  };
  return starter;
}

export async function testApp(options: {
  pipelines: PipelineSource;
  releases: ReleaseStarter;
  approvals?: ReleaseApprover;
  controls?: PromotionControls;
  rollbacks?: RollbackStarter;
  config?: Partial<GatewayAppConfig>;
  logger?: Logger;
}): Promise<FastifyInstance> {
  return buildApp({
    config: testConfig(options.config),
    pipelines: options.pipelines,
    releases: options.releases,
    approvals: options.approvals ?? unreachableApprover(),
    ...(options.controls === undefined ? {} : { controls: options.controls }),
    ...(options.rollbacks === undefined ? {} : { rollbacks: options.rollbacks }),
    logger: options.logger ?? pino({ level: 'silent' }),
    metrics: { defaultMetrics: false },
  });
}

/** The value of one sample in Prometheus text output, or undefined. */
export function metricValue(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}
