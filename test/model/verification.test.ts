/**
 * Verify annotations: what parses (with its defaults), what does not and why — an unknown check
 * type, a field of the wrong type or a typo, credentials in a URL, a bad threshold — and how a bad
 * one makes the whole Pipeline invalid like any other policy annotation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describePolicyProblem, readPolicyProblems } from '../../model/promotion-policies.js';
import {
  checkTimeoutMs,
  jsonPathSteps,
  meetsThreshold,
  parseThreshold,
  parseVerification,
  readVerifications,
  type VerificationCheck,
  verifyAnnotation,
} from '../../model/verification.js';

function parsed(text: string): VerificationCheck[] {
  const result = parseVerification(text);
  assert.ok(result.ok, result.ok ? '' : result.problem);
  return result.value;
}

function problem(text: string): string {
  const result = parseVerification(text);
  assert.ok(!result.ok, 'expected a problem');
  return result.problem;
}

describe('parsing verification checks', () => {
  test('an http check, as YAML, with its defaults', () => {
    assert.deepEqual(parsed('- {name: healthz, type: http, url: "http://podinfo.podinfo-02-qa:9898/healthz"}'), [
      { name: 'healthz', type: 'http', url: 'http://podinfo.podinfo-02-qa:9898/healthz', status: 200, samples: 1, intervalMs: 10_000 },
    ]);
  });

  test('an http check with a JSON path, samples, an interval and a secretRef', () => {
    const [check] = parsed(`
- name: ready
  type: http
  url: https://api.example.com/status
  status: 200
  jsonPath: $.checks[0].ready
  equals: true
  samples: 3
  interval: 30s
  secretRef: {name: api-token}
`);
    assert.deepEqual(check, {
      name: 'ready',
      type: 'http',
      url: 'https://api.example.com/status',
      status: 200,
      jsonPath: '$.checks[0].ready',
      equals: true,
      samples: 3,
      intervalMs: 30_000,
      secretRef: { name: 'api-token', key: 'token' },
    });
  });

  test('a promql check as JSON: samples over `for` every `interval`, the threshold read', () => {
    const [check] = parsed(
      '[{"name":"errors","type":"promql","prometheus":"http://prometheus.monitoring:9090","query":"sum(rate(x[5m]))","threshold":"value < 0.01","for":"2m","interval":"30s"}]',
    );
    assert.deepEqual(check, {
      name: 'errors',
      type: 'promql',
      prometheus: 'http://prometheus.monitoring:9090',
      query: 'sum(rate(x[5m]))',
      threshold: { operator: '<', value: 0.01, text: 'value < 0.01' },
      samples: 5,
      intervalMs: 30_000,
    });
  });

  test('a kubernetes check: Ready=True by default, a 5m timeout', () => {
    const check = parsed(`
- name: podinfo
  type: kubernetes
  resource: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, namespace: podinfo-02-qa, name: podinfo}
  reportsVersion: true
`)[0]!;
    assert.deepEqual(check, {
      name: 'podinfo',
      type: 'kubernetes',
      resource: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', namespace: 'podinfo-02-qa', name: 'podinfo' },
      condition: { type: 'Ready', status: 'True' },
      reportsVersion: true,
      timeoutMs: 300_000,
      intervalMs: 5_000,
    });
    assert.equal(checkTimeoutMs(check), 300_000 + 10_000 + 60_000);
  });

  for (const [text, expected] of [
    ['- {name: x, type: grpc, url: "http://a"}', 'check 1 (x): unknown check type "grpc" (http, promql, kubernetes)'],
    ['- {name: x, url: "http://a"}', 'check 1 (x): no check type (http, promql, kubernetes)'],
    ['{name: x, type: http}', 'not a list of checks (e.g. "- {name: healthz, type: http, url: …}")'],
    ['[]', 'not a list of checks (e.g. "- {name: healthz, type: http, url: …}")'],
    ['- {name: x, type: http, url: "http://a", sample: 3}', 'check 1 (x): unknown field sample'],
    ['- {name: x, type: http, url: "http://a", samples: 0}', 'check 1 (x): samples must be >= 1'],
    ['- {name: x, type: http, url: 42}', 'check 1 (x): url must be string'],
    ['- {name: x, type: http, url: "ftp://a/b"}', 'check 1 (x): url must be http or https, not ftp:'],
    ['- {name: x, type: http, url: "https://me:secret@a/b"}', 'check 1 (x): url must not carry credentials: use secretRef'],
    ['- {name: x, type: http, url: "http://a", jsonPath: "$.ok"}', 'check 1 (x): jsonPath and equals go together: set both or neither'],
    [
      '- {name: x, type: http, url: "http://a", interval: 10 seconds please}',
      'check 1 (x): interval "10 seconds please" is not a duration (e.g. 10s, 1m, 5m)',
    ],
    [
      '- {name: x, type: promql, prometheus: "http://p", query: up, threshold: "about 1"}',
      'check 1 (x): threshold "about 1" is not a comparison with a number (e.g. "value < 0.01", "> 0.99")',
    ],
    [
      '- {name: x, type: promql, prometheus: "http://p", query: up, threshold: "> 0", for: 1h, interval: 1s}',
      'check 1 (x): for 1h every 1s is 3601 samples; at most 60',
    ],
    ['- {name: x, type: http, url: "http://a"}\n- {name: x, type: http, url: "http://b"}', 'check 2 (x): two checks are named "x"'],
    [
      '- {name: x, type: kubernetes, resource: {kind: HelmRelease}}',
      'check 1 (x): resource must have required properties apiVersion, namespace, name',
    ],
    ['- [', 'not YAML or JSON: '],
  ] as const) {
    test(`refused: ${text.split('\n')[0]}`, () => {
      const said = problem(text);
      if (expected.endsWith('… ')) assert.ok(said.startsWith(expected.slice(0, -3)), said);
      else if (expected.endsWith(': ')) assert.ok(said.startsWith(expected), said);
      else assert.equal(said, expected);
    });
  }
});

describe('thresholds and JSON paths', () => {
  test('comparisons, with or without `value`; NaN meets none', () => {
    const below = parseThreshold('value < 0.01');
    assert.ok(below.ok);
    assert.equal(meetsThreshold(0.009, below.value), true);
    assert.equal(meetsThreshold(0.01, below.value), false);
    assert.equal(meetsThreshold(Number.NaN, below.value), false);
    const atLeast = parseThreshold('>= 0.99');
    assert.ok(atLeast.ok);
    assert.equal(meetsThreshold(0.99, atLeast.value), true);
    assert.equal(parseThreshold('value ~ 1').ok, false);
  });

  test('paths with fields and indices', () => {
    assert.deepEqual(jsonPathSteps('$.status'), ['status']);
    assert.deepEqual(jsonPathSteps('$.checks[0].ready'), ['checks', 0, 'ready']);
    assert.deepEqual(jsonPathSteps("items['a.b']"), ['items', 'a.b']);
    assert.deepEqual(jsonPathSteps('$'), []);
    assert.equal(jsonPathSteps('$..x'), undefined);
  });
});

describe('the verify annotations of a Pipeline', () => {
  const environments = ['dev', 'test', 'prod'];

  test('any environment may be verified, the last one too', () => {
    const { values, problems } = readVerifications(
      {
        [verifyAnnotation('dev')]: '- {name: a, type: http, url: "http://a"}',
        [verifyAnnotation('prod')]: '- {name: b, type: http, url: "http://b"}',
      },
      environments,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual([...values.keys()], ['dev', 'prod']);
  });

  test('a bad verify annotation makes the Pipeline invalid, named with its problem, like any policy annotation', () => {
    const annotations = {
      [verifyAnnotation('test')]: '- {name: x, type: grpc}',
      [verifyAnnotation('staging')]: '- {name: y, type: http, url: "http://y"}',
    };
    const problems = readPolicyProblems(annotations, environments);
    assert.deepEqual(problems.map(describePolicyProblem), [
      'annotation promotion.baton.dev/verify.test: "- {name: x, type: grpc}": check 1 (x): unknown check type "grpc" (http, promql, kubernetes)',
      'annotation promotion.baton.dev/verify.staging: "- {name: y, type: http, url: "http://y"}": the Pipeline has no environment "staging" (it has dev, test, prod)',
    ]);
  });
});
