/** The release's pure bookkeeping: no server, no Temporal APIs. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DeployedSignal, EnvironmentClaim } from '../../model/messages.js';
import type { PipelineSpec } from '../../model/pipeline.js';
import { type ReleaseState, ReleasePhase, releaseWorkflowId } from '../../model/release.js';
import { RELEASE_LIMITS } from '../../model/release-limits.js';
import {
  alreadyPromotedInto,
  appName,
  decisionProblem,
  earlyDecisionProblem,
  furthestReached,
  higherPromoted,
  initialState,
  journeyLine,
  readDecision,
  recordDeployment,
  recordTargetReport,
  settleTargets,
  withTargetsNote,
  withDowngradeNote,
  yieldsTo,
} from '../../workflows/journey.js';

const PIPELINE = { namespace: 'flux-system', name: 'podinfo' };
const SPEC: PipelineSpec = {
  appRef: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', name: 'podinfo' },
  environments: ['dev', 'test', 'prod'].map((name) => ({ name, targets: [{ namespace: `podinfo-${name}` }] })),
  promotion: { strategy: { notification: {} } },
};

const fresh = (version = '1.0.0'): ReleaseState => initialState({ pipeline: PIPELINE, version, policy: {} as never });

const deployed = (environment: string, receivedAt = '2026-01-01T00:00:00.000Z'): DeployedSignal => ({
  environment,
  receivedAt,
  event: {
    revision: '1.0.0',
    reason: 'UpgradeSucceeded',
    message: 'ok',
    timestamp: receivedAt,
    reportingController: 'helm-controller',
    involvedObject: { kind: 'HelmRelease', namespace: `podinfo-${environment}`, name: 'podinfo' },
  },
});

const waitingAt = (environment: string, since: string, approvers?: string[], version?: string): ReleaseState => ({
  ...fresh(version),
  phase: ReleasePhase.awaitingApproval,
  pendingGate: { kind: 'approval', environment, since, ...(approvers === undefined ? {} : { approvers }) },
});

const claim = (overrides: Partial<EnvironmentClaim>): EnvironmentClaim => ({
  version: '2.0.0',
  environment: 'prod',
  workflowId: releaseWorkflowId(PIPELINE, '2.0.0'),
  reason: 'waiting',
  at: '2026-01-02T00:00:00.000Z',
  ...overrides,
});

describe('initialState', () => {
  test('starts with nothing reached and says what it waits for', () => {
    const state = fresh('1.2.3');
    assert.equal(state.phase, ReleasePhase.started);
    assert.deepEqual(state.reached, []);
    assert.deepEqual(state.promotions, []);
    assert.match(state.currentStep, /1\.2\.3/);
  });
});

describe('recordDeployment', () => {
  test('records a new environment once and counts the repeats', () => {
    const state = fresh();
    assert.equal(recordDeployment(state, deployed('dev')), true);
    assert.equal(recordDeployment(state, deployed('dev', '2026-01-01T01:00:00.000Z')), false);
    assert.equal(recordDeployment(state, deployed('dev')), false);
    assert.equal(state.reached.length, 1);
    assert.equal(state.reached[0]!.repeats, 2);
    assert.equal(state.reached[0]!.reachedAt, '2026-01-01T00:00:00.000Z', 'the first report dates the arrival');
  });

  test('keeps a Flux message short and records a bounded number of environments', () => {
    const state = fresh();
    const long = deployed('dev');
    long.event.message = 'm'.repeat(100_000);
    assert.equal(recordDeployment(state, long), true);
    assert.equal(state.reached[0]!.event.message.length, RELEASE_LIMITS.eventMessageChars);
    for (let i = 1; i < RELEASE_LIMITS.reachedEnvironments + 10; i += 1) recordDeployment(state, deployed(`env-${i}`));
    assert.equal(state.reached.length, RELEASE_LIMITS.reachedEnvironments);
    assert.equal(recordDeployment(state, deployed('x'.repeat(RELEASE_LIMITS.eventFieldChars + 1))), false);
  });
});

describe('every target reports', () => {
  const TWO_TARGETS: PipelineSpec = {
    ...SPEC,
    environments: SPEC.environments.map((env) =>
      env.name === 'test'
        ? {
            name: 'test',
            targets: [
              { namespace: 'qa' },
              { namespace: 'perf', clusterRef: { kind: 'GitopsCluster', name: 'dev', namespace: 'flux-system' } },
            ],
          }
        : env,
    ),
  };
  const reportFrom = (namespace: string, receivedAt: string): DeployedSignal => {
    const signal = deployed('test', receivedAt);
    return { ...signal, event: { ...signal.event, involvedObject: { ...signal.event.involvedObject, namespace } } };
  };

  test('an environment is reached once every target reported; a repeat is not news', () => {
    const state = fresh();
    assert.equal(recordTargetReport(state, reportFrom('qa', '2026-01-01T00:00:01.000Z')), true);
    settleTargets(state, TWO_TARGETS, false);
    assert.equal(state.reached.length, 0, 'perf has not reported');
    assert.deepEqual(
      state.targets?.map((t) => [t.namespace, t.cluster, t.status, t.reportedAt]),
      [
        ['qa', undefined, 'reported', '2026-01-01T00:00:01.000Z'],
        ['perf', 'flux-system/dev', 'waiting', undefined],
      ],
    );
    assert.match(
      withTargetsNote(state, 'Promoted', 'test'),
      /^Promoted\n\nTargets of test: waiting for perf \(flux-system\/dev\) to report 1\.0\.0; reported: qa at 2026-01-01T00:00:01\.000Z$/,
    );
    assert.equal(recordTargetReport(state, reportFrom('qa', '2026-01-01T00:00:02.000Z')), false, 'the same target again');

    assert.equal(recordTargetReport(state, reportFrom('perf', '2026-01-01T00:00:03.000Z')), true);
    settleTargets(state, TWO_TARGETS, false);
    assert.deepEqual(
      state.reached.map((r) => [r.environment, r.reachedAt]),
      [['test', '2026-01-01T00:00:03.000Z']],
    );
    assert.equal(withTargetsNote(state, withTargetsNote(state, 'Promoted', 'test'), 'test'), 'Promoted');
    assert.equal(recordTargetReport(state, reportFrom('perf', '2026-01-01T00:00:04.000Z')), false);
    assert.equal(state.reached[0]?.repeats, 1);
  });

  test('with any target, the first report reaches the environment', () => {
    const state = fresh();
    recordTargetReport(state, reportFrom('perf', '2026-01-01T00:00:01.000Z'));
    settleTargets(state, TWO_TARGETS, true);
    assert.deepEqual(
      state.reached.map((r) => r.environment),
      ['test'],
    );
    assert.equal(recordTargetReport(state, reportFrom('qa', '2026-01-01T00:00:02.000Z')), false, 'listed, but no news');
    assert.equal(state.targets?.find((t) => t.namespace === 'qa')?.status, 'reported');
  });

  test('a report from a namespace the Pipeline no longer lists does not count', () => {
    const state = fresh();
    recordTargetReport(state, reportFrom('gone', '2026-01-01T00:00:01.000Z'));
    settleTargets(state, TWO_TARGETS, true);
    assert.equal(state.reached.length, 0);
  });
});

describe('furthestReached', () => {
  test('is undefined before any known environment is reached', () => {
    const state = fresh();
    assert.equal(furthestReached(state, SPEC), undefined);
    recordDeployment(state, deployed('staging-that-was-removed'));
    assert.equal(furthestReached(state, SPEC), undefined);
  });

  test('is the environment furthest along the spec, whatever the order of the reports', () => {
    const state = fresh();
    recordDeployment(state, deployed('test'));
    recordDeployment(state, deployed('dev'));
    assert.deepEqual(furthestReached(state, SPEC), { index: 1, environment: 'test' });
  });
});

describe('alreadyPromotedInto', () => {
  test('counts only completed promotions into that environment', () => {
    const state = fresh();
    const started = { sourceEnvironment: 'dev', targetEnvironment: 'test', strategy: 'notification', startedAt: 'x' } as const;
    state.promotions.push({ ...started });
    assert.equal(alreadyPromotedInto(state, 'test'), false);
    state.promotions.push({ ...started, completedAt: 'y' });
    assert.equal(alreadyPromotedInto(state, 'test'), true);
    assert.equal(alreadyPromotedInto(state, 'prod'), false);
  });
});

describe('journeyLine and appName', () => {
  test('name the environments in order and the app', () => {
    assert.equal(journeyLine(SPEC), 'dev → test → prod');
    assert.equal(appName(SPEC), 'podinfo');
  });
});

describe('readDecision', () => {
  test('accepts an approver with optional strings, dropping unknown fields', () => {
    assert.deepEqual(readDecision({ approver: 'ann', comment: 'ok', environment: 'prod', version: '1.0.0', extra: 1 }), {
      decision: { approver: 'ann', comment: 'ok', environment: 'prod', version: '1.0.0' },
    });
  });

  for (const [name, input, problem] of [
    ['no input', undefined, /not no input/],
    ['a bare string', 'yes', /JSON object/],
    ['an array', ['ann'], /JSON object/],
    ['no approver', { comment: 'ok' }, /approver is required/],
    ['a blank approver', { approver: '  ' }, /approver is required/],
    ['an over-long approver', { approver: 'a'.repeat(257) }, /longer than 256/],
    ['a non-string comment', { approver: 'ann', comment: 3 }, /comment must be a string/],
    ['an over-long comment', { approver: 'ann', comment: 'c'.repeat(4097) }, /longer than 4096/],
    ['allowDowngrade as a string', { approver: 'ann', allowDowngrade: 'yes' }, /allowDowngrade must be true or false/],
  ] as const) {
    test(`says what is wrong with ${name}`, () => {
      const read = readDecision(input);
      assert.ok('problem' in read, `expected a problem, got ${JSON.stringify(read)}`);
      assert.match(read.problem, problem);
    });
  }
});

describe('readDecision and allowDowngrade', () => {
  test('keeps allowDowngrade when it is true and drops it when false', () => {
    assert.deepEqual(readDecision({ approver: 'ann', allowDowngrade: true }), { decision: { approver: 'ann', allowDowngrade: true } });
    assert.deepEqual(readDecision({ approver: 'ann', allowDowngrade: false }), { decision: { approver: 'ann' } });
  });
});

describe('decisionProblem', () => {
  test('refuses a decision when no gate is open', () => {
    assert.match(decisionProblem(fresh(), { approver: 'ann' })!, /not waiting for approval \(Started\)/);
  });

  test('accepts a matching decision and names what does not match', () => {
    const state = waitingAt('prod', 'now', ['ann']);
    assert.equal(decisionProblem(state, { approver: 'ann', environment: 'prod', version: '1.0.0' }), undefined);
    assert.match(decisionProblem(state, { approver: 'ann', environment: 'test' })!, /test is not waiting for approval; prod is/);
    assert.match(decisionProblem(state, { approver: 'ann', version: '9.9.9' })!, /version 9\.9\.9 is not waiting/);
    assert.match(decisionProblem(state, { approver: 'bob' })!, /bob may not decide promotions into prod \(approvers: ann\)/);
  });

  test('lets anyone decide when the gate names no approvers', () => {
    assert.equal(decisionProblem(waitingAt('prod', 'now'), { approver: 'anyone' }), undefined);
  });

  test('with a higher version already in the environment, only an approval that allows the downgrade applies', () => {
    const state: ReleaseState = {
      ...waitingAt('prod', 'now'),
      higherVersionIn: { environment: 'prod', version: '1.1.0', workflowId: releaseWorkflowId(PIPELINE, '1.1.0') },
    };
    assert.match(
      decisionProblem(state, { approver: 'ann' }, 'approved')!,
      /1\.1\.0, a higher version, is already promoted into prod: approving 1\.0\.0 would downgrade it; send "allowDowngrade": true/,
    );
    assert.equal(decisionProblem(state, { approver: 'ann', allowDowngrade: true }, 'approved'), undefined);
    assert.equal(decisionProblem(state, { approver: 'ann' }, 'rejected'), undefined, 'a rejection needs no permission');
    assert.equal(
      decisionProblem({ ...state, higherVersionIn: { ...state.higherVersionIn!, environment: 'test' } }, { approver: 'ann' }, 'approved'),
      undefined,
    );
  });
});

describe('higherPromoted: what a queued release remembers of the version promoted last into its environment', () => {
  const promoted = (version: string): EnvironmentClaim => claim({ version, reason: 'promoted', queued: true });
  const cases: [mine: string, promotedLast: string, higher: boolean][] = [
    ['1.9.0', '1.10.0', true],
    ['1.10.0', '1.9.0', false],
    ['v1.9.0', '1.10.0', true],
    ['1.10.0', 'v1.9.0', false],
    ['2.0.0-rc.1', '2.0.0', true],
    ['2.0.0', '2.0.0-rc.1', false],
    ['1.0.0-alpha.2', '1.0.0-alpha.10', true],
    ['1.2.3', 'v1.2.3', false],
    ['1.2.3+build.1', '1.2.3+build.2', false],
    ['main@sha1:0a1b2c3d4e5f60718293a4b5c6d7e8f901234567', '1.0.0', false],
    ['1.0.0', 'main@sha1:0a1b2c3d4e5f60718293a4b5c6d7e8f901234567', false],
  ];
  for (const [mine, last, higher] of cases) {
    test(`${mine} after ${last} was promoted: ${higher ? 'a downgrade' : 'no downgrade'}`, () => {
      const remembered = higherPromoted(fresh(mine), promoted(last));
      assert.deepEqual(
        remembered,
        higher ? { environment: 'prod', version: last, workflowId: releaseWorkflowId(PIPELINE, '2.0.0') } : undefined,
      );
    });
  }

  test('nothing promoted yet is no downgrade', () => {
    assert.equal(higherPromoted(fresh('1.0.0'), undefined), undefined);
  });

  test('the gate’s sentence names the higher version and allowDowngrade, and goes once the version is no longer higher', () => {
    const state: ReleaseState = { ...fresh('1.0.0'), higherVersionIn: { environment: 'prod', version: '1.1.0', workflowId: 'w' } };
    const noted = withDowngradeNote(state, 'Waiting for approval', 'prod');
    assert.match(
      noted,
      /^Waiting for approval\n\nNot promoted by a plain approval: 1\.1\.0, a higher version, is already in prod\. .*"allowDowngrade": true/,
    );
    assert.equal(withDowngradeNote(state, noted, 'prod'), noted, 'noted once');
    assert.equal(withDowngradeNote({ ...state, higherVersionIn: undefined }, noted, 'prod'), 'Waiting for approval');
  });
});

describe('yieldsTo, as releases did before versions were ordered (arrival order only)', () => {
  test('a release waiting at a gate yields to a claim on that environment that came later', () => {
    const state = waitingAt('prod', '2026-01-01T00:00:00.000Z');
    assert.equal(yieldsTo(state, claim({})), 'arrival');
    assert.equal(yieldsTo(state, claim({ at: '2025-12-31T00:00:00.000Z' })), undefined, 'an earlier claim does not supersede');
    assert.equal(yieldsTo(state, claim({ environment: 'test' })), undefined, 'another environment does not matter');
    assert.equal(yieldsTo(state, claim({ version: '1.0.0' })), undefined, 'a claim of its own version does not count');
  });

  test('a promoted release yields only to a later promotion into the environment it awaits', () => {
    const state: ReleaseState = {
      ...fresh(),
      phase: ReleasePhase.awaitingDeployment,
      targetEnvironment: 'prod',
      promotions: [
        {
          sourceEnvironment: 'test',
          targetEnvironment: 'prod',
          strategy: 'notification',
          startedAt: 'x',
          completedAt: '2026-01-01T00:00:00.000Z',
        },
      ],
    };
    assert.equal(yieldsTo(state, claim({ reason: 'promoted' })), 'arrival');
    assert.equal(
      yieldsTo(state, claim({ reason: 'waiting' })),
      undefined,
      'a newer release merely waiting does not supersede a promoted one',
    );
    assert.equal(yieldsTo({ ...state, phase: ReleasePhase.completed }, claim({ reason: 'promoted' })), undefined);
  });

  test('on equal times the smaller workflow ID counts as first', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const state = waitingAt('prod', at);
    const mine = releaseWorkflowId(PIPELINE, '1.0.0');
    assert.equal(yieldsTo(state, claim({ at, workflowId: `${mine}~` })), 'arrival');
    assert.equal(yieldsTo(state, claim({ at, workflowId: mine.slice(0, -1) })), undefined);
  });
});

describe('yieldsTo by version', () => {
  const at = '2026-01-01T00:00:00.000Z';
  const later = '2026-01-02T00:00:00.000Z';
  const earlier = '2025-12-31T00:00:00.000Z';

  test('a lower version arriving later does not supersede a higher one waiting', () => {
    const state = waitingAt('prod', at, undefined, '6.7.1');
    assert.equal(yieldsTo(state, claim({ version: '6.7.0', at: later }), true), undefined);
    assert.equal(yieldsTo(state, claim({ version: '6.7.0', at: later })), 'arrival', 'the unpatched path still yields');
  });

  test('a higher version supersedes whenever it got there', () => {
    const state = waitingAt('prod', at, undefined, '6.7.0');
    assert.equal(yieldsTo(state, claim({ version: '6.7.1', at: later }), true), 'version');
    assert.equal(yieldsTo(state, claim({ version: '6.7.1', at: earlier }), true), 'version');
    assert.equal(yieldsTo(state, claim({ version: '6.7.1-rc.1', at: later }), true), 'version');
    assert.equal(yieldsTo(state, claim({ version: '6.7.0-rc.1', at: later }), true), undefined);
  });

  test('versions without an order fall back to arrival order', () => {
    const state = waitingAt('prod', at, undefined, 'main@sha1:bbb');
    assert.equal(yieldsTo(state, claim({ version: 'main@sha1:aaa', at: later }), true), 'arrival');
    assert.equal(yieldsTo(state, claim({ version: 'main@sha1:aaa', at: earlier }), true), undefined);
    assert.equal(yieldsTo(state, claim({ version: '9.9.9', at: earlier }), true), undefined);
  });
});

describe('earlyDecisionProblem', () => {
  test('an early decision must name the environment and this release’s version', () => {
    const state = fresh('6.7.1');
    assert.match(
      earlyDecisionProblem(state, { approver: 'ann' })!,
      /must name the environment and the version.*no environment and no version/,
    );
    assert.match(earlyDecisionProblem(state, { approver: 'ann', environment: 'prod' })!, /has no version$/);
    assert.match(earlyDecisionProblem(state, { approver: 'ann', version: '6.7.1' })!, /has no environment$/);
    assert.match(earlyDecisionProblem(state, { approver: 'ann', environment: 'prod', version: '6.7.0' })!, /6\.7\.0 is not this release/);
    assert.equal(earlyDecisionProblem(state, { approver: 'ann', environment: 'prod', version: '6.7.1' }), undefined);
  });
});
