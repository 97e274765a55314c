/**
 * Approval keys: the Secret a Pipeline's `promotion.baton.dev/approval-secret` annotation names,
 * `approval-key-<env>` preferred over `approval-key`. What reaches the approver (here a recording
 * one; approval.test.ts delivers to a real workflow) and what the log says, keys never included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { approvalPath, signedApproval } from '../support/approvals.js';
import {
  captureLogs,
  directorySource,
  manifestDirectory,
  podinfoVariant,
  recordingApprover,
  testApp,
  unreachableStarter,
  webhookSecret,
} from './helpers.js';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';

const HMAC = 'webhook-key-every-leaf-cluster-holds';
const PROD = 'prod-approval-key-only-the-hub-holds';
const TEST = 'test-approval-key-only-the-hub-holds';
const ANY = 'pipeline-wide-approval-key';
const KEYS = [HMAC, PROD, TEST, ANY];

/** A podinfo-02 variant named `name` whose approval Secret (`<name>-approval`) holds `keys`. */
function pipelineWithKeys(name: string, keys: Record<string, string> | undefined, annotate = true): object[] {
  const pipeline = podinfoVariant(name, (spec) => {
    if (spec.promotion !== undefined) spec.promotion.strategy.secretRef = { name: `${name}-webhook` };
  }) as { metadata: { annotations?: Record<string, string> } };
  pipeline.metadata.annotations = annotate ? { 'promotion.baton.dev/approval-secret': `${name}-approval` } : {};
  return [
    pipeline,
    webhookSecret(`${name}-webhook`, { 'hmac-key': HMAC }),
    ...(keys === undefined ? [] : [webhookSecret(`${name}-approval`, keys)]),
  ];
}

let manifests: { path: string; remove: () => Promise<void> };
let pipelines: DirectoryPipelineSource;
let app: FastifyInstance;
const approvals = recordingApprover();
const logs = captureLogs();

before(async () => {
  manifests = await manifestDirectory({
    'per-env.yaml': pipelineWithKeys('per-env', { 'approval-key-prod': PROD, 'approval-key-test': TEST, 'approval-key': ANY }),
    'any-env.yaml': pipelineWithKeys('any-env', { 'approval-key': ANY }),
    'reused.yaml': pipelineWithKeys('reused', { 'approval-key': HMAC }),
    'unannotated.yaml': pipelineWithKeys('unannotated', { 'approval-key': ANY }, false),
    'missing.yaml': pipelineWithKeys('missing', undefined),
    'prod-only.yaml': pipelineWithKeys('prod-only', { 'approval-key-prod': PROD }),
    'no-prod-key.yaml': pipelineWithKeys('no-prod-key', { 'approval-key-test': TEST }),
  });
  pipelines = await directorySource(manifests.path);
  app = await testApp({ pipelines, releases: unreachableStarter(), approvals, logger: logs.logger });
});

after(async () => {
  await app?.close();
  await pipelines?.stop();
  await manifests?.remove();
});

const at = (name: string, env: string) => approvalPath({ namespace: 'flux-system', name }, env, '6.7.1');
const approve = (path: string, key: string, approver = 'alice@example.com') =>
  app.inject(signedApproval(path, { approver, comment: 'ship it' }, { key }));

describe('approval keys', () => {
  test("an environment's own key approves it, as the asserted approver, naming the key", async () => {
    const before = approvals.received.length;
    const response = await approve(at('per-env', 'prod'), PROD);
    assert.equal(response.statusCode, 200, response.body);
    const approval = approvals.received.at(-1)!;
    assert.equal(approvals.received.length, before + 1);
    assert.equal(approval.approver, 'alice@example.com');
    assert.equal(approval.comment, 'ship it');
    assert.deepEqual(approval.authentication, {
      method: 'approval-key',
      subject: 'alice@example.com',
      verified: false,
      key: 'approval-key:flux-system/per-env-approval/approval-key-prod',
    });
    assert.deepEqual(response.json<{ authentication: unknown }>().authentication, approval.authentication);
    const test = await approve(at('per-env', 'test'), TEST);
    assert.equal(test.statusCode, 200, test.body);
  });

  test('allowDowngrade in the body reaches the workflow with an approval; a rejection never carries it', async () => {
    const path = at('per-env', 'prod');
    const downgrade = await app.inject(signedApproval(path, { approver: 'alice@example.com', allowDowngrade: true }, { key: PROD }));
    assert.equal(downgrade.statusCode, 200, downgrade.body);
    assert.equal(approvals.received.at(-1)?.allowDowngrade, true);

    const rejection = await app.inject(
      signedApproval(path.replace('/approval/', '/rejection/'), { approver: 'alice@example.com', allowDowngrade: true }, { key: PROD }),
    );
    assert.equal(rejection.statusCode, 200, rejection.body);
    assert.equal(approvals.received.at(-1)?.decision, 'reject');
    assert.equal(approvals.received.at(-1)?.allowDowngrade, undefined);

    const notBoolean = await app.inject(signedApproval(path, { approver: 'alice@example.com', allowDowngrade: 'yes' }, { key: PROD }));
    assert.equal(notBoolean.statusCode, 400, notBoolean.body);
    assert.match(notBoolean.json<{ message: string }>().message, /body\/allowDowngrade must be boolean/);
  });

  test("another environment's key, the Pipeline-wide key where an environment has its own, and the webhook key are refused", async () => {
    const before = approvals.received.length;
    for (const [env, key, what] of [
      ['prod', TEST, "test's key for prod"],
      ['test', PROD, "prod's key for test"],
      ['prod', ANY, 'the Pipeline-wide key where prod has its own'],
      ['prod', HMAC, 'the webhook hmac-key'],
    ] as const) {
      const response = await approve(at('per-env', env), key);
      assert.equal(response.statusCode, 401, `${what}: ${response.body}`);
      assert.equal(response.json<{ message: string }>().message, 'signature verification failed', what);
    }
    assert.equal(approvals.received.length, before, 'nothing was approved');
  });

  test('the Pipeline-wide approval-key approves every environment that has no key of its own', async () => {
    for (const env of ['dev', 'test', 'prod']) {
      const response = await approve(at('any-env', env), ANY);
      assert.equal(response.statusCode, 200, `${env}: ${response.body}`);
      assert.equal(approvals.received.at(-1)?.authentication?.key, 'approval-key:flux-system/any-env-approval/approval-key');
    }
  });

  test('an approval key equal to the webhook hmac-key is refused, and the operator is told', async () => {
    const response = await approve(at('reused', 'prod'), HMAC);
    assert.equal(response.statusCode, 401, response.body);
    assert.ok(
      logs.lines().some((l) => l.problem === 'approval key equals the webhook hmac-key' && l.level === 50),
      'an error names the reused key',
    );
  });

  test('a Pipeline without an approval Secret, or whose Secret is missing, approves nothing by signature', async () => {
    const unannotated = await approve(at('unannotated', 'prod'), ANY);
    assert.equal(unannotated.statusCode, 401, unannotated.body);
    assert.match(unannotated.json<{ message: string }>().message, /promotion\.baton\.dev\/approval-secret/);
    const webhookSigned = await approve(at('unannotated', 'prod'), HMAC);
    assert.equal(webhookSigned.statusCode, 401, webhookSigned.body);

    const missing = await approve(at('missing', 'prod'), ANY);
    assert.equal(missing.statusCode, 401, missing.body);
    assert.ok(logs.lines().some((l) => l.problem === 'Secret not found' && l.secret === 'flux-system/missing-approval'));
  });

  test("a missing key is the operator's error only at a gate that waits for approvals, not wherever a caller points", async () => {
    const errors = () => logs.lines().filter((l) => l.level === 50 && l.problem === 'Secret has no approval key');
    const before = errors().length;
    // Any caller can name an environment without a gate, or none at all: that says nothing about the configuration.
    for (const env of ['test', 'nope', '%3Cscript%3E']) {
      const response = await approve(at('prod-only', env), PROD);
      assert.equal(response.statusCode, 401, `${env}: ${response.body}`);
    }
    assert.equal(errors().length, before, 'no error logged for environments without a gate');
    // prod has a manual gate and its Secret no key for it: nobody can approve by key, the operator is told.
    const gate = await approve(at('no-prod-key', 'prod'), TEST);
    assert.equal(gate.statusCode, 401, gate.body);
    assert.equal(errors().length, before + 1);
    assert.match(
      String(errors().at(-1)?.msg),
      /no-prod-key in prod: Secret flux-system\/no-prod-key-approval has neither 'approval-key-prod'/,
    );
  });

  test('no key, signature or approval Secret value reaches the log or an answer', async () => {
    const response = await approve(at('per-env', 'prod'), 'wrong');
    assert.equal(response.statusCode, 401);
    const text = logs.text();
    for (const key of KEYS) assert.ok(!text.includes(key), 'a key in the log');
    assert.ok(!/sha256=[0-9a-f]{64}/.test(text), 'a signature in the log');
    assert.ok(!KEYS.some((key) => response.body.includes(key)));
  });
});
