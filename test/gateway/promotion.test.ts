/**
 * The promotion webhook against every answer docs/http-api.md lists and every way Baton differs
 * from Weave (README's webhook contract), with the real fixture bodies, the example Pipelines, and a
 * real Temporal dev server for the events that are accepted. (The rate-limit row is in rate-limit.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createTemporalReleaseStarter, type ReleaseStarter } from '../../gateway/release-starter.js';
import { INTERNAL_ERROR_MESSAGE } from '../../gateway/errors.js';
import { defaultConfig } from '../../config/config.js';
import { PromotionPipeline, PromotionState, PromotionVersion } from '../../model/search-attributes.js';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { startDevServer } from '../infra/temporal.js';
import {
  captureLogs,
  countingStarter,
  delivery,
  directorySource,
  EXAMPLE_PIPELINES_DIR,
  manifestDirectory,
  metricValue,
  PODINFO,
  podinfoVariant,
  testApp,
  webhookSecret,
} from './helpers.js';
import { fixtureBody, FIXTURES, variant } from '../support/events.js';
import { freePort } from '../support/free-port.js';
import { HMAC_KEY } from '../support/signing.js';

const TASK_QUEUE = 'gateway-test';
const UI = 'http://localhost:8233';

let env: TestWorkflowEnvironment;
let examples: DirectoryPipelineSource;
let special: DirectoryPipelineSource;
let removeSpecial: () => Promise<void>;
let releases: ReleaseStarter & { calls: number; failureDeliveries: number };
/** examples/pipelines, real Temporal. */
let app: FastifyInstance;
/** Special-case Pipelines (temp dir), signatures required; its logs are captured. */
let strictApp: FastifyInstance;
const strictLogs = captureLogs();
/** The same Pipelines with BATON_ALLOW_UNSIGNED=true. */
let lenientApp: FastifyInstance;
const lenientLogs = captureLogs();

function json(response: LightMyRequestResponse): Record<string, unknown> {
  return response.json();
}

function assertError(response: LightMyRequestResponse, statusCode: number, message?: string): void {
  assert.equal(response.statusCode, statusCode, response.body);
  const body = json(response);
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'statusCode']);
  assert.equal(body.statusCode, statusCode);
  if (message !== undefined) assert.equal(body.message, message);
}

async function signals(workflowId: string): Promise<{ environment: string; event: { revision: string } }[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .map((event) => event.workflowExecutionSignaledEventAttributes)
    .filter((attributes) => attributes?.signalName === 'deployed')
    .map((attributes) => {
      const data = attributes?.input?.payloads?.[0]?.data;
      assert.ok(data, 'the deployed signal carries its argument');
      return JSON.parse(Buffer.from(data).toString('utf8')) as { environment: string; event: { revision: string } };
    });
}

before(async () => {
  env = await startDevServer();
  releases = countingStarter(
    createTemporalReleaseStarter(env.client, {
      taskQueue: TASK_QUEUE,
      policy: defaultConfig().releasePolicy,
      namespace: 'default',
      signalTimeoutMs: 10_000,
    }),
  );
  examples = await directorySource(EXAMPLE_PIPELINES_DIR);
  app = await testApp({ pipelines: examples, releases });

  const dir = await manifestDirectory({
    'secrets.yaml': [webhookSecret('podinfo-02-webhook', { 'hmac-key': HMAC_KEY }), webhookSecret('keyless-webhook', { token: HMAC_KEY })],
    'pipelines.yaml': [
      podinfoVariant('unsigned', (spec) => {
        spec.promotion = { strategy: { notification: {} } };
      }),
      podinfoVariant('absent-secret', (spec) => {
        spec.promotion = { strategy: { notification: {}, secretRef: { name: 'absent-webhook' } } };
      }),
      podinfoVariant('keyless', (spec) => {
        spec.promotion = { strategy: { notification: {}, secretRef: { name: 'keyless-webhook' } } };
      }),
      podinfoVariant('no-targets', (spec) => {
        spec.environments[1]!.targets = [];
      }),
      podinfoVariant('no-promotion', (spec) => {
        delete spec.promotion;
      }),
      podinfoVariant('no-strategy', (spec) => {
        spec.promotion = { strategy: { secretRef: { name: 'podinfo-02-webhook' } } };
      }),
      annotated(
        podinfoVariant('bad-window', () => undefined),
        {
          'promotion.baton.dev/window.prod': 'Mon-Fri 09:00-17:00 <b>Europe/Berln</b>',
        },
      ),
      annotated(
        podinfoVariant('bad-soak', () => undefined),
        { 'promotion.baton.dev/soak.test': '2 hours please' },
      ),
      annotated(
        podinfoVariant('bad-train', () => undefined),
        { 'promotion.baton.dev/train.prod': '0 10 * * TUE,THU' },
      ),
      annotated(
        podinfoVariant('bad-verify', () => undefined),
        { 'promotion.baton.dev/verify.test': '- {name: smoke, type: grpc, url: "http://podinfo:9898"}' },
      ),
    ],
  });
  removeSpecial = dir.remove;
  special = await directorySource(dir.path);
  assert.equal(special.problems().length, 0, JSON.stringify(special.problems()));
  strictApp = await testApp({ pipelines: special, releases, logger: strictLogs.logger });
  lenientApp = await testApp({
    pipelines: special,
    releases,
    logger: lenientLogs.logger,
    config: { allowUnsigned: true },
  });
});

after(async () => {
  await Promise.all([app?.close(), strictApp?.close(), lenientApp?.close()]);
  await Promise.all([examples?.stop(), special?.stop()]);
  await removeSpecial?.();
  await env?.teardown();
});

const body = fixtureBody(FIXTURES.upgradeSucceeded);

function annotated(manifest: object, annotations: Record<string, string>): object {
  const m = manifest as { metadata: { annotations?: Record<string, string> } };
  m.metadata.annotations = { ...m.metadata.annotations, ...annotations };
  return m;
}

describe('method: 405 for anything but POST', () => {
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH'] as const) {
    it(`${method} → 405 with Allow: POST`, async () => {
      const response = await app.inject({ method, url: `${PODINFO}/dev`, headers: { 'content-type': 'text/plain' }, payload: 'x' });
      assertError(response, 405);
      assert.equal(response.headers.allow, 'POST');
    });
  }

  it('whatever the number of segments (the method is checked first)', async () => {
    const response = await app.inject({ method: 'GET', url: '/promotion/flux-system' });
    assertError(response, 405);
  });
});

describe('path: 404 unless it has the three segments', () => {
  for (const url of ['/promotion/flux-system/podinfo-02', `${PODINFO}/dev/extra`, '/promotion/']) {
    it(`POST ${url} → 404`, async () => {
      assertError(await app.inject(delivery(url, body)), 404);
    });
  }

  it('before the body is looked at (invalid JSON still answers 404)', async () => {
    const response = await app.inject({ ...delivery('/promotion/a/b', Buffer.from('{not json')) });
    assertError(response, 404);
  });
});

describe('Pipeline: 404 when it does not exist', () => {
  it('unknown name or namespace → 404', async () => {
    assertError(
      await app.inject(delivery('/promotion/flux-system/podinfo-03/dev', body)),
      404,
      'Pipeline flux-system/podinfo-03 not found',
    );
    assertError(await app.inject(delivery('/promotion/default/podinfo-02/dev', body)), 404);
  });

  it('before the body is read (a text/plain body to an unknown Pipeline is a 404, not a 415)', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/promotion/flux-system/podinfo-03/dev',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    assertError(response, 404);
  });

  it('escapes what it reflects', async () => {
    const response = await app.inject(delivery('/promotion/flux-system/%3Cimg%20src%3Dx%3E/dev', body));
    assertError(response, 404, 'Pipeline flux-system/&lt;img src=x&gt; not found');
    assert.ok(!response.body.includes('<img'));
  });
});

describe('body transport: 415 unless application/json, 413 over 1 MiB', () => {
  it('text/plain → 415', async () => {
    const response = await app.inject(delivery(`${PODINFO}/dev`, body, { headers: { 'content-type': 'text/plain' } }));
    assertError(response, 415, 'content type must be application/json');
  });

  it('no content type → 415', async () => {
    const request = delivery(`${PODINFO}/dev`, body);
    delete (request.headers as Record<string, string>)['content-type'];
    assertError(await app.inject(request), 415);
  });

  it('application/json; charset=utf-8 is JSON', async () => {
    const response = await app.inject(delivery(`${PODINFO}/dev`, body, { headers: { 'content-type': 'application/json; charset=utf-8' } }));
    assert.equal(response.statusCode, 202, response.body);
  });

  it('1 MiB + 1 byte → 413', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, ' ');
    assertError(await app.inject(delivery(`${PODINFO}/dev`, big)), 413);
  });
});

describe('signature: 401', () => {
  it('no X-Signature → 401', async () => {
    const request = delivery(`${PODINFO}/dev`, body);
    delete (request.headers as Record<string, string>)['x-signature'];
    assertError(await app.inject(request), 401, 'missing X-Signature header');
  });

  it('signed with another key → 401', async () => {
    assertError(await app.inject(delivery(`${PODINFO}/dev`, body, { key: 'not-the-key' })), 401, 'signature verification failed');
  });

  it('signature of the original bytes over re-serialised JSON → 401 (verified over the raw bytes)', async () => {
    const request = delivery(`${PODINFO}/dev`, body);
    request.payload = JSON.stringify(JSON.parse(body.toString('utf8')), null, 2);
    assertError(await app.inject(request), 401);
  });

  it('a correct HMAC with an algorithm Weave did not accept (sha1) → 401', async () => {
    const { createHmac } = await import('node:crypto');
    const request = delivery(`${PODINFO}/dev`, body, {
      headers: { 'x-signature': `sha1=${createHmac('sha1', HMAC_KEY).update(body).digest('hex')}` },
    });
    assertError(await app.inject(request), 401);
  });

  it('a malformed header → 401', async () => {
    assertError(await app.inject(delivery(`${PODINFO}/dev`, body, { headers: { 'x-signature': 'sha256' } })), 401);
  });

  it('the signature is checked before the body: invalid JSON with a bad signature → 401', async () => {
    const request = delivery(`${PODINFO}/dev`, Buffer.from('{not json'), { key: 'not-the-key' });
    assertError(await app.inject(request), 401);
  });

  it('a Pipeline without spec.promotion.strategy.secretRef → 401 (Weave skipped verification)', async () => {
    const response = await strictApp.inject(delivery('/promotion/flux-system/unsigned/dev', body));
    assertError(response, 401);
    assert.match(json(response).message as string, /secretRef/);
  });

  it('… unless the operator allowed unsigned webhooks → 202, even without X-Signature', async () => {
    const request = delivery('/promotion/flux-system/unsigned/dev', body);
    delete (request.headers as Record<string, string>)['x-signature'];
    const response = await lenientApp.inject(request);
    assert.equal(response.statusCode, 202, response.body);
    assert.equal(json(response).workflowId, 'release/flux-system/unsigned/6.7.1');
  });

  it('a secretRef naming a missing Secret → 401 to the caller, the details logged for the operator', async () => {
    const response = await strictApp.inject(delivery('/promotion/flux-system/absent-secret/dev', body));
    assertError(response, 401, 'signature verification failed');
    assert.ok(!response.body.includes('absent-webhook'), 'the caller does not learn about the Secret');
    const logged = strictLogs.lines().find((line) => line.level === 50 && line.pipeline === 'flux-system/absent-secret');
    assert.ok(logged, strictLogs.text());
    assert.equal(logged.secret, 'flux-system/absent-webhook');
    assert.match(logged.msg as string, /Secret flux-system\/absent-webhook .*not found/);
  });

  it("a Secret without 'hmac-key' → 401, logged", async () => {
    const response = await strictApp.inject(delivery('/promotion/flux-system/keyless/dev', body));
    assertError(response, 401);
    const logged = strictLogs.lines().find((line) => line.level === 50 && line.pipeline === 'flux-system/keyless');
    assert.ok(logged);
    assert.match(logged.msg as string, /has no 'hmac-key'/);
  });

  it('never logs the key or a signature', () => {
    const signature = delivery(`${PODINFO}/dev`, body).headers!['x-signature'] as string;
    for (const text of [strictLogs.text(), lenientLogs.text()]) {
      assert.ok(!text.includes(HMAC_KEY));
      assert.ok(!text.includes(signature.slice('sha256='.length)));
    }
  });
});

describe('body: 400 unless a Flux event (checked after the signature)', () => {
  it('invalid JSON → 400', async () => {
    assertError(await app.inject(delivery(`${PODINFO}/dev`, Buffer.from('{"involvedObject":'))), 400, 'body is not valid JSON');
  });

  it('JSON that is not a Flux event → 400', async () => {
    for (const text of ['{"hello":"world"}', '[]', '"6.7.1"', '{"involvedObject":{"kind":"HelmRelease"},"severity":"info"}']) {
      const response = await app.inject(delivery(`${PODINFO}/dev`, Buffer.from(text)));
      assertError(response, 400);
      assert.match(json(response).message as string, /^body is not a Flux event: /);
    }
  });

  it('non-string metadata → 400', async () => {
    const bad = variant(FIXTURES.upgradeSucceeded, ['"revision":"6.7.1"', '"revision":671']);
    assertError(await app.inject(delivery(`${PODINFO}/dev`, bad)), 400);
  });
});

describe('422s, in the order of the table', () => {
  const noRevision = variant(FIXTURES.upgradeSucceeded, ['"revision":"6.7.1"', '"chart":"6.7.1"']);

  it("no revision → 422 event has no 'revision' in the metadata field.", async () => {
    assertError(await app.inject(delivery(`${PODINFO}/dev`, noRevision)), 422, "event has no 'revision' in the metadata field.");
  });

  it('the revision is checked before the environment', async () => {
    assertError(await app.inject(delivery(`${PODINFO}/staging`, noRevision)), 422, "event has no 'revision' in the metadata field.");
  });

  it('unknown source environment → 422 app <ns>/<name> has no environment <env> defined', async () => {
    assertError(
      await app.inject(delivery(`${PODINFO}/staging`, body)),
      422,
      'app flux-system/podinfo-02 has no environment staging defined',
    );
  });

  it('… with the environment HTML-escaped', async () => {
    const response = await app.inject(delivery(`${PODINFO}/%3Cscript%3Ealert(1)%3C%2Fscript%3E`, body));
    assertError(response, 422, 'app flux-system/podinfo-02 has no environment &lt;script&gt;alert(1)&lt;/script&gt; defined');
    assert.ok(!response.body.includes('<script>'));
  });

  it('next environment without targets → 422 environment <next> has no targets', async () => {
    assertError(await strictApp.inject(delivery('/promotion/flux-system/no-targets/dev', body)), 422, 'environment test has no targets');
  });

  it('involved object of another kind and name (a Kustomization) → 422', async () => {
    assertError(
      await app.inject(delivery(`${PODINFO}/dev`, fixtureBody(FIXTURES.kustomizationSucceeded))),
      422,
      'involved object does not match Pipeline definition',
    );
  });

  it('involved object in a namespace that is not a target of the source environment → 422', async () => {
    const fromQa = variant(FIXTURES.upgradeSucceeded, ['"namespace":"podinfo-02-dev"', '"namespace":"podinfo-02-qa"']);
    assertError(await app.inject(delivery(`${PODINFO}/dev`, fromQa)), 422, 'involved object does not match Pipeline definition');
  });

  it('involved object of another API group → 422 (the group matters, the version does not)', async () => {
    const otherGroup = variant(FIXTURES.upgradeSucceeded, ['helm.toolkit.fluxcd.io/v2', 'example.com/v2']);
    assertError(await app.inject(delivery(`${PODINFO}/dev`, otherGroup)), 422, 'involved object does not match Pipeline definition');
  });

  it('a change window that cannot be read → 422 naming the annotation and the problem (HTML-escaped), nothing delivered', async () => {
    const before = releases.calls;
    const response = await strictApp.inject(delivery('/promotion/flux-system/bad-window/dev', body));
    assertError(
      response,
      422,
      'Pipeline flux-system/bad-window has an invalid promotion policy: annotation promotion.baton.dev/window.prod: ' +
        '&#34;Mon-Fri 09:00-17:00 &lt;b&gt;Europe/Berln&lt;/b&gt;&#34;: &#34;&lt;b&gt;Europe/Berln&lt;/b&gt;&#34; is not an IANA time zone ' +
        '(e.g. Europe/Berlin, America/New_York, UTC)',
    );
    assert.equal(releases.calls, before);
  });

  it('a release train that cannot be read → 422 naming the annotation and the problem, nothing delivered', async () => {
    const before = releases.calls;
    const response = await strictApp.inject(delivery('/promotion/flux-system/bad-train/dev', body));
    assertError(
      response,
      422,
      'Pipeline flux-system/bad-train has an invalid promotion policy: annotation promotion.baton.dev/train.prod: ' +
        '&#34;0 10 * * TUE,THU&#34;: expected &#34;&lt;minute&gt; &lt;hour&gt; &lt;day of month&gt; &lt;month&gt; &lt;day of week&gt; ' +
        '&lt;IANA time zone&gt;&#34;, e.g. &#34;0 10 * * TUE,THU Europe/Berlin&#34;',
    );
    assert.equal(releases.calls, before);
  });

  it('a soak time that cannot be read → 422 naming the annotation and the problem, nothing delivered', async () => {
    const before = releases.calls;
    const response = await strictApp.inject(delivery('/promotion/flux-system/bad-soak/dev', body));
    assertError(
      response,
      422,
      'Pipeline flux-system/bad-soak has an invalid promotion policy: annotation promotion.baton.dev/soak.test: ' +
        '&#34;2 hours please&#34;: not a duration (e.g. 2h, 90m, 1d, &#34;30 minutes&#34;)',
    );
    assert.equal(releases.calls, before);
  });

  it('a verification that cannot be read (an unknown check type) → 422 naming the annotation and the problem, nothing delivered', async () => {
    const before = releases.calls;
    const response = await strictApp.inject(delivery('/promotion/flux-system/bad-verify/dev', body));
    assertError(
      response,
      422,
      'Pipeline flux-system/bad-verify has an invalid promotion policy: annotation promotion.baton.dev/verify.test: ' +
        '&#34;- {name: smoke, type: grpc, url: &#34;http://podinfo:9898&#34;}&#34;: check 1 (smoke): unknown check type ' +
        '&#34;grpc&#34; (http, promql, kubernetes)',
    );
    assert.equal(releases.calls, before);
  });
});

describe('events that do not promote: 200 {ignored: true}, no workflow touched', () => {
  it('a failure event (UpgradeFailed, severity error) for a version no release runs for starts nothing', async () => {
    const before = releases.calls + releases.failureDeliveries;
    const response = await app.inject(delivery(`${PODINFO}/dev`, fixtureBody(FIXTURES.upgradeFailed)));
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(json(response), {
      ignored: true,
      reason: 'no release of this version runs for flux-system/podinfo-02: a failure event stops a running release and never starts one',
    });
    assert.equal(releases.calls + releases.failureDeliveries, before + 1, 'a signal was tried, never a start');
    await assert.rejects(env.client.workflow.getHandle('release/flux-system/podinfo-02/6.7.2').describe(), WorkflowNotFoundError);
  });

  it('an info event whose reason is not a successful deployment', async () => {
    const before = releases.calls;
    const progressing = variant(FIXTURES.upgradeSucceeded, ['"reason":"UpgradeSucceeded"', '"reason":"Progressing"'], ['6.7.1', '6.9.9']);
    const response = await app.inject(delivery(`${PODINFO}/dev`, progressing));
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(json(response), { ignored: true, reason: "reason 'Progressing' does not report a successful deployment" });
    assert.equal(releases.calls, before);
    await assert.rejects(env.client.workflow.getHandle('release/flux-system/podinfo-02/6.9.9').describe(), WorkflowNotFoundError);
  });
});

describe('failure events reach only a running release of their version', () => {
  const failed = (version: string, reason = 'UpgradeFailed'): Buffer =>
    variant(FIXTURES.upgradeFailed, ['6.7.2', version], ['"reason":"UpgradeFailed"', `"reason":"${reason}"`]);

  it('a running release gets the failure as a signal: 202 naming it, nothing started', async () => {
    const started = await app.inject(delivery(`${PODINFO}/dev`, variant(FIXTURES.upgradeSucceeded, ['6.7.1', '6.10.0'])));
    assert.equal(started.statusCode, 202, started.body);
    const { workflowId, runId } = json(started) as { workflowId: string; runId: string };
    const before = releases.calls;

    for (const reason of ['UpgradeFailed', 'HealthCheckFailed']) {
      const response = await app.inject(delivery(`${PODINFO}/dev`, failed('6.10.0', reason)));
      assert.equal(response.statusCode, 202, response.body);
      assert.deepEqual(json(response), {
        workflowId,
        url: `${UI}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`,
        failure: true,
      });
    }
    assert.equal(releases.calls, before, 'no signal-with-start');
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const failures = (history.events ?? [])
      .map((event) => event.workflowExecutionSignaledEventAttributes)
      .filter((attributes) => attributes?.signalName === 'deployment-failed')
      .map(
        (attributes) =>
          JSON.parse(Buffer.from(attributes!.input!.payloads![0]!.data!).toString('utf8')) as {
            environment: string;
            event: { reason: string; revision: string };
          },
      );
    assert.deepEqual(
      failures.map((f) => [f.environment, f.event.reason, f.event.revision]),
      [
        ['dev', 'UpgradeFailed', '6.10.0'],
        ['dev', 'HealthCheckFailed', '6.10.0'],
      ],
    );
    assert.equal((await env.client.workflow.getHandle(workflowId).describe()).runId, runId);
  });

  it('a release that no longer runs is not started again by a failure: 200 ignored', async () => {
    const started = await app.inject(delivery(`${PODINFO}/dev`, variant(FIXTURES.upgradeSucceeded, ['6.7.1', '6.10.1'])));
    assert.equal(started.statusCode, 202, started.body);
    const { workflowId, runId } = json(started) as { workflowId: string; runId: string };
    await env.client.workflow.getHandle(workflowId).terminate('ended before the failure');

    const response = await app.inject(delivery(`${PODINFO}/dev`, failed('6.10.1', 'ReconciliationFailed')));
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(json(response).ignored, true);
    const description = await env.client.workflow.getHandle(workflowId).describe();
    assert.deepEqual([description.runId, description.status.name], [runId, 'TERMINATED']);
  });
});

describe('ignored events reflect the event safely', () => {
  it('a reason with markup is escaped in the answer', async () => {
    const marked = variant(FIXTURES.upgradeSucceeded, ['"reason":"UpgradeSucceeded"', '"reason":"<b>Odd</b>"']);
    const response = await app.inject(delivery(`${PODINFO}/dev`, marked));
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(json(response).reason, "reason '&lt;b&gt;Odd&lt;/b&gt;' does not report a successful deployment");
  });
});

describe('no promotion for the target environment: 500, details only in the logs', () => {
  it('no promotion block at all', async () => {
    const before = releases.calls;
    const response = await lenientApp.inject(delivery('/promotion/flux-system/no-promotion/dev', body));
    assertError(response, 500, INTERNAL_ERROR_MESSAGE);
    assert.equal(releases.calls, before);
    const logged = lenientLogs.lines().find((line) => line.level === 50 && line.pipeline === 'flux-system/no-promotion');
    assert.ok(logged, lenientLogs.text());
    assert.match(logged.problem as string, /no promotion configured for environment test/);
    assert.ok(!response.body.includes('environment test'));
  });

  it('a promotion block that selects no strategy', async () => {
    const response = await strictApp.inject(delivery('/promotion/flux-system/no-strategy/dev', body));
    assertError(response, 500, INTERNAL_ERROR_MESSAGE);
  });
});

describe('accepted: 202 once the event is durable in Temporal', () => {
  it('a successful upgrade in dev starts the release workflow, then answers 202 with its ID and UI link', async () => {
    const response = await app.inject(delivery(`${PODINFO}/dev`, body));
    assert.equal(response.statusCode, 202, response.body);
    const { workflowId, runId, url } = json(response) as { workflowId: string; runId: string; url: string };
    assert.equal(workflowId, 'release/flux-system/podinfo-02/6.7.1');
    assert.match(runId, /^[0-9a-f-]{36}$/);
    assert.equal(url, `${UI}/namespaces/default/workflows/release%2Fflux-system%2Fpodinfo-02%2F6.7.1/${runId}/history`);
    assert.equal(response.headers.location, url);

    const description = await env.client.workflow.getHandle(workflowId).describe();
    assert.equal(description.type, 'release');
    assert.equal(description.runId, runId);
    assert.equal(description.taskQueue, TASK_QUEUE);
    assert.equal(description.status.name, 'RUNNING');
    assert.equal(description.typedSearchAttributes.get(PromotionPipeline), 'flux-system/podinfo-02');
    assert.equal(description.typedSearchAttributes.get(PromotionVersion), '6.7.1');
    assert.equal(description.typedSearchAttributes.get(PromotionState), 'Started');
    assert.equal(await description.staticSummary(), 'Promote podinfo 6.7.1: dev → test → prod');
    assert.match((await description.staticDetails()) ?? '', /\*\*Pipeline:\*\* flux-system\/podinfo-02/);
    assert.ok((await signals(workflowId)).some((s) => s.environment === 'dev' && s.event.revision === '6.7.1'));
  });

  it('the same event again → 202 with the same workflow and run, delivered as one more signal', async () => {
    const first = json(await app.inject(delivery(`${PODINFO}/dev`, body)));
    const before = (await signals(first.workflowId as string)).length;
    const again = await app.inject(delivery(`${PODINFO}/dev`, body));
    assert.equal(again.statusCode, 202);
    assert.equal(json(again).workflowId, first.workflowId);
    assert.equal(json(again).runId, first.runId);
    assert.equal((await signals(first.workflowId as string)).length, before + 1);
  });

  it('an OCI chart: build metadata is stripped from the version, kept in the event', async () => {
    const response = await app.inject(delivery(`${PODINFO}/dev`, fixtureBody(FIXTURES.installSucceededOci)));
    assert.equal(response.statusCode, 202, response.body);
    const { workflowId } = json(response) as { workflowId: string };
    assert.equal(workflowId, 'release/flux-system/podinfo-02/6.6.1');
    const description = await env.client.workflow.getHandle(workflowId).describe();
    assert.equal(description.typedSearchAttributes.get(PromotionVersion), '6.6.1');
    assert.deepEqual(
      (await signals(workflowId)).map((s) => s.event.revision),
      ['6.6.1+0cc9a8446c95'],
    );
  });

  it('metadata keys with the helm.toolkit.fluxcd.io/ prefix', async () => {
    const response = await app.inject(delivery(`${PODINFO}/dev`, fixtureBody(FIXTURES.upgradeSucceededPrefixed)));
    assert.equal(response.statusCode, 202, response.body);
    assert.equal(json(response).workflowId, 'release/flux-system/podinfo-02/6.7.3');
  });

  for (const algorithm of ['sha224', 'sha384', 'sha512'] as const) {
    it(`signed with ${algorithm}`, async () => {
      const response = await app.inject(delivery(`${PODINFO}/dev`, body, { algorithm }));
      assert.equal(response.statusCode, 202, response.body);
    });
  }

  it('from any target namespace of the source environment (test: podinfo-02-perf)', async () => {
    const fromPerf = variant(FIXTURES.upgradeSucceeded, ['"namespace":"podinfo-02-dev"', '"namespace":"podinfo-02-perf"']);
    const response = await app.inject(delivery(`${PODINFO}/test`, fromPerf));
    assert.equal(response.statusCode, 202, response.body);
    assert.ok((await signals('release/flux-system/podinfo-02/6.7.1')).some((s) => s.environment === 'test'));
  });

  it('from the last environment → 202: it records the end of the journey (Weave answered 422)', async () => {
    const fromProd = variant(
      FIXTURES.upgradeSucceeded,
      ['"namespace":"podinfo-02-dev"', '"namespace":"podinfo-02-prod"'],
      ['6.7.1', '6.8.0'],
    );
    const response = await app.inject(delivery(`${PODINFO}/prod`, fromProd));
    assert.equal(response.statusCode, 202, response.body);
    assert.equal(json(response).workflowId, 'release/flux-system/podinfo-02/6.8.0');
    assert.deepEqual(
      (await signals('release/flux-system/podinfo-02/6.8.0')).map((s) => s.environment),
      ['prod'],
    );
  });
});

describe('Temporal unavailable: 503 + Retry-After, never 2xx', () => {
  it('a starter whose client points at a closed port', async () => {
    const connection = Connection.lazy({ address: `127.0.0.1:${await freePort()}` });
    const down = createTemporalReleaseStarter(new Client({ connection, namespace: 'default' }), {
      taskQueue: TASK_QUEUE,
      policy: defaultConfig().releasePolicy,
      namespace: 'default',
      signalTimeoutMs: 1_000,
    });
    const downApp = await testApp({ pipelines: examples, releases: down });
    try {
      const response = await downApp.inject(delivery(`${PODINFO}/dev`, body));
      assertError(response, 503);
      assert.equal(response.headers['retry-after'], '30');
    } finally {
      await downApp.close();
      await down.drain(10_000);
      await connection.close();
    }
  });
});

describe('metrics', () => {
  it('GET /metrics shows requests by route and status, signature failures, ignored events, signal-with-start latency', async () => {
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(response.headers['content-type'] as string, /^text\/plain/);
    const text = response.body;
    const route = '/promotion/:namespace/:name/:env';
    assert.ok((metricValue(text, `baton_gateway_http_requests_total{route="${route}",method="POST",status_code="202"}`) ?? 0) >= 5);
    assert.ok((metricValue(text, `baton_gateway_http_requests_total{route="${route}",method="POST",status_code="401"}`) ?? 0) >= 5);
    assert.equal(metricValue(text, 'baton_gateway_http_requests_total{route="unmatched",method="POST",status_code="404"}'), 4);
    assert.equal(metricValue(text, 'baton_gateway_signature_failures_total{reason="missing"}'), 1);
    assert.ok((metricValue(text, 'baton_gateway_signature_failures_total{reason="mismatch"}') ?? 0) >= 3);
    assert.equal(metricValue(text, 'baton_gateway_signature_failures_total{reason="unsupported-algorithm"}'), 1);
    // The two failure events no release ran for.
    assert.equal(metricValue(text, 'baton_gateway_ignored_events_total{cause="severity"}'), 2);
    assert.equal(metricValue(text, 'baton_gateway_ignored_events_total{cause="reason"}'), 2);
    assert.ok((metricValue(text, 'baton_gateway_signal_with_start_duration_seconds_count{outcome="started"}') ?? 0) >= 5);
    assert.equal(metricValue(text, 'baton_gateway_rate_limited_requests_total'), 0);
  });
});
