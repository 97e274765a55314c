/**
 * Approvals with OpenID Connect tokens, against a real OpenID Provider on loopback (oidc-provider,
 * test/support/oidc-issuer.ts) issuing real signed JWTs for two users in different groups, a real
 * Temporal dev server and a real release worker. The approver is the token's user; every kind of bad
 * token is a 401 with a reason that records nothing; no token ever reaches a log, an answer or a
 * workflow history.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { decodeJwt, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { OidcConfig } from '../../config/config.js';
import { createTemporalReleaseApprover } from '../../gateway/release-approver.js';
import { stateQuery } from '../../model/messages.js';
import { ReleasePhase } from '../../model/release.js';
import type { DirectoryPipelineSource } from '../../pipelines/directory-source.js';
import { startDevServer } from '../infra/temporal.js';
import { approvalPath, signedApproval } from '../support/approvals.js';
import { freePort } from '../support/free-port.js';
import { APPROVAL_AUDIENCE, FLAWED, OTHER_AUDIENCE, signingKeys, startTestIssuer, type TestIssuer, USERS } from '../support/oidc-issuer.js';
import { APPROVAL_KEY, HMAC_KEY } from '../support/signing.js';
import { PODINFO, ReleaseHarness, TEST_TARGETS } from '../workflows/harness.js';
import { TEST_DECISION_KEY } from '../support/decision-key.js';
import {
  captureLogs,
  directorySource,
  EXAMPLE_PIPELINES_DIR,
  recordingApprover,
  testApp,
  unreachableApprover,
  unreachableStarter,
} from './helpers.js';

let env: TestWorkflowEnvironment;
let harness: ReleaseHarness;
let pipelines: DirectoryPipelineSource;
let keys: JWK[];
let issuer: TestIssuer;
/** Same keys, another issuer URL: its tokens verify with the right keys but name the wrong `iss`. */
let otherIssuer: TestIssuer;
let app: FastifyInstance;
const logs = captureLogs();
/** Every token and key a test used, and every answer it got: none may show up where it should not. */
const secrets: string[] = [HMAC_KEY, APPROVAL_KEY];
const answers: string[] = [];

const oidc = (issuerUrl: string): OidcConfig => ({
  issuer: issuerUrl,
  audience: APPROVAL_AUDIENCE,
  userClaim: 'email',
  groupsClaim: 'groups',
});

function remember(token: string): string {
  secrets.push(token);
  // The signature alone is as good as the token for a replay; it must not leak either.
  const signature = token.split('.')[2];
  if (signature !== undefined && signature.length >= 16) secrets.push(signature);
  return token;
}

async function send(request: InjectOptions, target: FastifyInstance = app): Promise<LightMyRequestResponse> {
  const response = await target.inject(request);
  answers.push(JSON.stringify(response.headers), response.body);
  return response;
}

function withToken(path: string, token: string, body?: object): InjectOptions {
  return {
    method: 'POST',
    url: path,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  };
}

async function waitingRelease() {
  const started = await harness.startRelease('test', PODINFO, TEST_TARGETS);
  await harness.waitForPhase(started.handle, ReleasePhase.awaitingApproval);
  return started;
}

/** Every string of a history, payload bytes decoded (JSON.stringify would turn them into base64). */
function historyText(history: unknown): string {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (value: unknown): void => {
    if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
    else if (typeof value === 'string') out.push(value);
    else if (value !== null && typeof value === 'object' && !seen.has(value)) {
      seen.add(value);
      for (const item of Object.values(value)) walk(item);
    }
  };
  walk(history);
  return out.join('\n');
}

/** The rotation test's JWKS cooldown: short, so the test waits seconds rather than jose's default 30 s. */
const JWKS_COOLDOWN_MS = 2_000;

const b64url = (value: object | string): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

before(async () => {
  env = await startDevServer();
  harness = await ReleaseHarness.start(env);
  pipelines = await directorySource(EXAMPLE_PIPELINES_DIR);
  keys = await signingKeys();
  issuer = await startTestIssuer(keys);
  otherIssuer = await startTestIssuer(keys);
  app = await testApp({
    pipelines,
    releases: unreachableStarter(),
    approvals: createTemporalReleaseApprover(env.client, { timeoutMs: 10_000, decisionKey: TEST_DECISION_KEY }),
    config: { oidc: oidc(issuer.issuer) },
    logger: logs.logger,
  });
});

after(async () => {
  await app?.close();
  await issuer?.stop();
  await otherIssuer?.stop();
  await pipelines?.stop();
  await harness?.stop();
  await env?.teardown();
});

beforeEach(() => harness.reset());

describe('approving with a token', () => {
  test("alice's token approves prod as alice@example.com, with her groups; the workflow gets how she was authenticated", async () => {
    const { handle, version } = await waitingRelease();
    const token = remember(await issuer.token('alice'));
    const response = await send(withToken(approvalPath(PODINFO, 'prod', version), token, { comment: 'ship it' }));
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<{ decision: Record<string, string>; authentication: unknown }>();
    assert.equal(body.decision.approver, USERS.alice.email);
    assert.equal(body.decision.comment, 'ship it');
    assert.deepEqual(body.authentication, {
      method: 'oidc',
      subject: USERS.alice.email,
      verified: true,
      issuer: issuer.issuer,
      groups: USERS.alice.groups,
    });

    const state = await harness.promotedInto(handle, 'prod');
    const approval = state.promotions.find((p) => p.targetEnvironment === 'prod')?.approval;
    assert.equal(approval?.approver, USERS.alice.email);
    assert.deepEqual(approval?.authentication, body.authentication, 'the workflow kept how she was authenticated');
    // The Update's input carries the authentication (claims, never the token) and the gateway's proof into the history.
    const history = await handle.fetchHistory();
    const accepted = history.events?.find(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes,
    )?.workflowExecutionUpdateAcceptedEventAttributes;
    const data = accepted?.acceptedRequest?.input?.args?.payloads?.[0]?.data;
    assert.ok(data !== undefined && data !== null, 'the approve Update is in the history');
    const decision = JSON.parse(Buffer.from(data).toString('utf8')) as { approver: string; authentication?: unknown; proof?: unknown };
    assert.equal(decision.approver, USERS.alice.email);
    assert.deepEqual(decision.authentication, body.authentication);
    assert.ok(decision.proof !== undefined, 'the gateway proved the decision');
    const text = historyText(history);
    assert.ok(text.includes('prod-approvers'), 'payloads are decoded');
    for (const secret of secrets) assert.ok(!text.includes(secret), 'a token in the workflow history');
    await handle.terminate('test done');
  });

  test('bob, in another group, approves with an empty body and is recorded as bob', async () => {
    const { handle, version } = await waitingRelease();
    const token = remember(await issuer.token('bob', { alg: 'RS256' }));
    const response = await send(withToken(approvalPath(PODINFO, 'prod', version), token));
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<{ decision: { approver: string }; authentication: { groups?: string[] } }>();
    assert.equal(body.decision.approver, USERS.bob.email);
    assert.deepEqual(body.authentication.groups, USERS.bob.groups);
    await handle.terminate('test done');
  });

  test("a typed approver other than the token's user is refused (403); the same name is fine", async () => {
    const token = remember(await issuer.token('alice'));
    const path = approvalPath(PODINFO, 'prod', '0.0.404');
    const other = await send(withToken(path, token, { approver: USERS.bob.email }));
    assert.equal(other.statusCode, 403, other.body);
    assert.match(other.json<{ message: string }>().message, /the approver is the token's user/);
    // Past authentication: the workflow answers (no such release).
    const same = await send(withToken(path, token, { approver: USERS.alice.email }));
    assert.equal(same.statusCode, 422, same.body);
  });
});

test('a client out of its unauthenticated allowance still has its token checked, like a signature', async () => {
  const limited = await testApp({
    pipelines,
    releases: unreachableStarter(),
    approvals: recordingApprover(),
    config: { rateLimit: { max: 1, windowMs: 60_000 }, oidc: oidc(issuer.issuer) },
  });
  try {
    const path = approvalPath(PODINFO, 'prod', '6.7.1');
    assert.equal((await send({ method: 'POST', url: path }, limited)).statusCode, 401);
    assert.equal((await send({ method: 'POST', url: path }, limited)).statusCode, 429);
    const response = await send(withToken(path, remember(await issuer.token('alice'))), limited);
    assert.equal(response.statusCode, 200, response.body);
  } finally {
    await limited.close();
  }
});

describe('bad tokens: 401 with a reason, nothing recorded', () => {
  test('every kind of bad token, against a waiting release that stays waiting', async () => {
    const { handle, version } = await waitingRelease();
    const path = approvalPath(PODINFO, 'prod', version);
    const valid = remember(await issuer.token('alice'));
    const [header, payload] = valid.split('.') as [string, string, string];
    const claims = decodeJwt(valid);

    const rsaPublic = createPublicKey({ key: keys.find((k) => k.kid === 'rsa-1')!, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const stranger = await generateKeyPair('ES256');

    const cases: [string, string, RegExp][] = [
      ['expired', await issuer.token(FLAWED.expired), /the token has expired/],
      ['not yet valid', await issuer.token(FLAWED.notYetValid), /the token is not yet valid/],
      ['another issuer, same keys', await otherIssuer.token('alice'), /the token was not issued by http:\/\/127\.0\.0\.1:\d+/],
      ['another audience', await issuer.token('alice', { audience: OTHER_AUDIENCE }), /the token is not for the audience/],
      ['alg: none', `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`, /not signed with an accepted algorithm/],
      ['HS256 signed by the issuer', await issuer.token(FLAWED.hmac), /not signed with an accepted algorithm/],
      [
        'HS256 keyed with the public RSA key',
        await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode(String(rsaPublic))),
        /not signed with an accepted algorithm/,
      ],
      [
        'an unknown kid',
        await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'not-a-key-of-the-issuer' }).sign(stranger.privateKey),
        /no key of the issuer matches the token's kid/,
      ],
      [
        'a tampered payload',
        `${header}.${b64url({ ...claims, email: USERS.bob.email })}.${valid.split('.')[2]}`,
        /signature does not verify/,
      ],
      ['an unverified email', await issuer.token(FLAWED.unverifiedEmail), /email is not verified/],
      ['a header that is not JSON', `${b64url('{"alg":')}.${payload}.c2ln`, /header is malformed/],
      ['a header that is not base64url', `%%%.${payload}.c2ln`, /header is malformed/],
      ['two parts', `${header}.${payload}`, /malformed/],
      ['not a JWT', 'opaque-token-value', /malformed/],
    ];
    for (const [name, token, reason] of cases) {
      remember(token);
      const response = await send(withToken(path, token, { comment: 'let me in' }));
      assert.equal(response.statusCode, 401, `${name}: ${response.body}`);
      const body = response.json<{ message: string }>();
      assert.match(body.message, /^invalid token: /, name);
      assert.match(body.message, reason, name);
      assert.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"', name);
    }

    for (const [name, headers, message] of [
      ['an empty bearer', { authorization: 'Bearer ' }, /malformed/],
      ['another scheme', { authorization: `Basic ${b64url('alice:secret')}` }, /unsupported Authorization scheme/],
      ['a token and a signature', { authorization: `Bearer ${valid}`, 'x-signature': 'sha256=00' }, /not both/],
    ] as const) {
      const response = await send({ method: 'POST', url: path, headers });
      assert.equal(response.statusCode, 401, `${name}: ${response.body}`);
      assert.match(response.json<{ message: string }>().message, message, name);
    }

    const state = await handle.query(stateQuery);
    assert.equal(state.phase, ReleasePhase.awaitingApproval, 'nothing was decided');
    assert.equal(state.ignoredDecisions, undefined, 'nothing reached the workflow');
    await handle.terminate('test done');
  });

  test("the webhook hmac-key (which every leaf cluster's Flux Provider holds) is refused at the approval endpoint", async () => {
    const path = approvalPath(PODINFO, 'prod', '6.7.1');
    const response = await send(signedApproval(path, { approver: 'mallory@example.com' }, { key: HMAC_KEY }));
    assert.equal(response.statusCode, 401, response.body);
    assert.equal(response.json<{ message: string }>().message, 'signature verification failed');
  });

  test('without BATON_OIDC_ISSUER a bearer token is refused', async () => {
    const plain = await testApp({ pipelines, releases: unreachableStarter(), approvals: unreachableApprover() });
    try {
      const response = await send(withToken(approvalPath(PODINFO, 'prod', '6.7.1'), remember(await issuer.token('alice'))), plain);
      assert.equal(response.statusCode, 401, response.body);
      assert.match(response.json<{ message: string }>().message, /accepts no bearer tokens/);
    } finally {
      await plain.close();
    }
  });

  test('an issuer that cannot be reached: 503 with Retry-After, nothing approved', async () => {
    const approvals = unreachableApprover();
    const down = await testApp({
      pipelines,
      releases: unreachableStarter(),
      approvals,
      config: { oidc: oidc(`http://127.0.0.1:${await freePort()}`) },
      logger: logs.logger,
    });
    try {
      const response = await send(withToken(approvalPath(PODINFO, 'prod', '6.7.1'), remember(await issuer.token('alice'))), down);
      assert.equal(response.statusCode, 503, response.body);
      assert.equal(response.headers['retry-after'], '30');
      assert.equal(approvals.calls, 0);
    } finally {
      await down.close();
    }
  });
});

describe('keys and secrets', () => {
  test("the issuer's keys are fetched once and cached across approvals", async () => {
    const counting = await startTestIssuer(keys);
    const cached = await testApp({
      pipelines,
      releases: unreachableStarter(),
      approvals: unreachableApprover(),
      config: { oidc: oidc(counting.issuer) },
    });
    try {
      for (let i = 0; i < 5; i++) {
        const expired = remember(await counting.token(FLAWED.expired, { alg: i % 2 === 0 ? 'ES256' : 'RS256' }));
        assert.equal((await send(withToken(approvalPath(PODINFO, 'prod', '6.7.1'), expired), cached)).statusCode, 401);
      }
      assert.equal(counting.jwksFetches(), 1);
    } finally {
      await cached.close();
      await counting.stop();
    }
  });

  test('rotated keys: an unknown kid is refused without a fetch during the cooldown, then the new keys are fetched', async () => {
    const original = await startTestIssuer(await signingKeys(2));
    const port = Number(new URL(original.issuer).port);
    const rotating = await testApp({
      pipelines,
      releases: unreachableStarter(),
      approvals: recordingApprover(),
      config: { oidc: { ...oidc(original.issuer), jwksCooldownMs: JWKS_COOLDOWN_MS } },
    });
    let restarted: TestIssuer | undefined;
    try {
      const path = approvalPath(PODINFO, 'prod', '6.7.1');
      const old = remember(await original.token('alice'));
      assert.equal((await send(withToken(path, old), rotating)).statusCode, 200);
      assert.equal(original.jwksFetches(), 1);
      // The same issuer, restarted with new keys: the old key is retired.
      await original.stop();
      restarted = await startTestIssuer(await signingKeys(3), { port });
      const rotated = remember(await restarted.token('bob'));
      const early = await send(withToken(path, rotated), rotating);
      assert.equal(early.statusCode, 401, early.body);
      assert.match(early.json<{ message: string }>().message, /no key of the issuer matches the token's kid/);
      assert.equal(restarted.jwksFetches(), 0, 'an unknown kid does not make the gateway fetch keys again at once');
      await new Promise((resolve) => setTimeout(resolve, JWKS_COOLDOWN_MS + 500));
      const late = await send(withToken(path, rotated), rotating);
      assert.equal(late.statusCode, 200, late.body);
      assert.equal(late.json<{ decision: { approver: string } }>().decision.approver, USERS.bob.email);
      assert.equal(restarted.jwksFetches(), 1);
      const retired = await send(withToken(path, old), rotating);
      assert.equal(retired.statusCode, 401, retired.body);
    } finally {
      await rotating.close();
      await restarted?.stop();
    }
  });

  test('no token, signature or key appears in a log line or an answer', () => {
    const text = logs.text();
    assert.ok(text.length > 0, 'the gateway logged');
    assert.ok(secrets.length > 20);
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `a secret in the log: ${secret.slice(0, 12)}…`);
      assert.ok(!answers.some((answer) => answer.includes(secret)), `a secret in an answer: ${secret.slice(0, 12)}…`);
    }
  });
});
