import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { approvalPolicy, approverProblem } from '../../model/approval-policy.js';
import type { Pipeline } from '../../model/pipeline.js';
import type { DecisionAuthentication } from '../../model/release.js';

const pipeline = (annotations: Record<string, string>): Pipeline =>
  ({
    namespace: 'team-a',
    name: 'api',
    annotations,
    spec: { appRef: { kind: 'HelmRelease', name: 'api' }, environments: [] },
  }) as unknown as Pipeline;

const A = 'promotion.baton.dev';
const oidc = (subject: string, groups: string[] = []): DecisionAuthentication => ({ method: 'oidc', subject, verified: true, groups });
const typed = (subject: string): DecisionAuthentication => ({ method: 'temporal', subject, verified: false });

describe('approval policy annotations', () => {
  test('without annotations anyone decides, once, through any channel', () => {
    assert.deepEqual(approvalPolicy(pipeline({}), 'prod'), { policy: { requiredApprovals: 1 } });
  });

  test('the per-environment annotation wins over the Pipeline-wide one', () => {
    const annotations = {
      [`${A}/approvers`]: 'alice',
      [`${A}/approvers.prod`]: 'bob, group:sre',
      [`${A}/required-approvals.prod`]: '2',
      [`${A}/approval-channels`]: 'temporal',
      [`${A}/approval-channels.prod`]: 'oidc, approval-key, oidc',
    };
    assert.deepEqual(approvalPolicy(pipeline(annotations), 'prod'), {
      policy: { approvers: ['bob', 'group:sre'], requiredApprovals: 2, channels: ['oidc', 'approval-key'] },
    });
    assert.deepEqual(approvalPolicy(pipeline(annotations), 'test'), {
      policy: { approvers: ['alice'], requiredApprovals: 1, channels: ['temporal'] },
    });
  });

  const invalid: [string, Record<string, string>, RegExp][] = [
    [
      'a quorum that is not a number',
      { [`${A}/required-approvals.prod`]: 'two' },
      /required-approvals\.prod: 'two' is not a number of approvals from 1 to 20/,
    ],
    ['a quorum of zero', { [`${A}/required-approvals`]: '0' }, /required-approvals: '0' is not a number/],
    [
      'more approvals than the listed users can give',
      { [`${A}/approvers.prod`]: 'alice, bob', [`${A}/required-approvals.prod`]: '3' },
      /3 approvals can never come from the 2 approver\(s\) promotion\.baton\.dev\/approvers\.prod allows \(alice, bob\)/,
    ],
    ['an unknown channel', { [`${A}/approval-channels.prod`]: 'oidc, slack' }, /approval-channels\.prod: unknown channel\(s\) slack/],
    ['an empty channel list', { [`${A}/approval-channels.prod`]: ' , ' }, /names no channel/],
    ['a group without a name', { [`${A}/approvers.prod`]: 'group:' }, /'group:' names no group/],
  ];
  for (const [name, annotations, problem] of invalid) {
    test(`${name} is a problem naming the annotation, never "no policy"`, () => {
      const read = approvalPolicy(pipeline(annotations), 'prod');
      assert.ok('problem' in read, JSON.stringify(read));
      assert.match(read.problem, problem);
    });
  }

  test('a quorum among groups is not bounded by the listed users', () => {
    const read = approvalPolicy(pipeline({ [`${A}/approvers.prod`]: 'group:sre', [`${A}/required-approvals.prod`]: '3' }), 'prod');
    assert.deepEqual(read, { policy: { approvers: ['group:sre'], requiredApprovals: 3 } });
  });
});

describe('who may decide', () => {
  const policy = { approvers: ['bob', 'group:sre'], requiredApprovals: 1, channels: ['oidc' as const, 'temporal' as const] };

  test('a listed user, or a member of a listed group vouched for by the identity provider', () => {
    assert.equal(approverProblem(policy, oidc('bob'), 'prod'), undefined);
    assert.equal(approverProblem(policy, oidc('carol', ['sre']), 'prod'), undefined);
    assert.equal(approverProblem(policy, typed('bob'), 'prod'), undefined);
  });

  test('groups count only when verified; other people and channels are refused with the policy', () => {
    assert.match(
      approverProblem(policy, oidc('dave', ['dev']), 'prod')!,
      /dave may not decide promotions into prod \(approvers: bob, group:sre\)/,
    );
    assert.match(
      approverProblem(policy, { method: 'temporal', subject: 'carol', verified: false, groups: ['sre'] }, 'prod')!,
      /carol may not decide/,
    );
    assert.match(
      approverProblem(policy, { method: 'approval-key', subject: 'bob', verified: false }, 'prod')!,
      /decisions through approval-key may not decide promotions into prod \(allowed: oidc, temporal\)/,
    );
  });
});
