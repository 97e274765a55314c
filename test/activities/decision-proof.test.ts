import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDecisionProofActivities, decisionProofProblem, PROOF_LIFETIME_MS, proveDecision } from '../../activities/decision-proof.js';
import type { Decision } from '../../model/release.js';

const KEY = 'the-gateway-and-worker-decision-key-0123456789';
const decision: Decision = {
  approver: 'alice@example.com',
  comment: 'ship it',
  environment: 'prod',
  version: '6.7.0',
  authentication: { method: 'oidc', subject: 'alice@example.com', verified: true, issuer: 'https://idp.example.com', groups: ['sre'] },
};
const check = { workflowId: 'release/flux-system/podinfo-02/6.7.0', verdict: 'approved' as const, decision };
const issued = new Date('2026-12-02T10:00:00Z');
const proven = { ...check, decision: { ...decision, proof: proveDecision(KEY, check, issued) } };
const at = (ms: number): number => issued.getTime() + ms;

describe("the gateway's decision proof", () => {
  test('holds for the decision it was made for, under the key or the previous key', () => {
    assert.equal(decisionProofProblem([KEY], proven, at(1000)), undefined);
    assert.equal(decisionProofProblem(['the-new-key-after-a-rotation-0123456789', KEY], proven, at(1000)), undefined);
  });

  const altered: [string, (d: Decision) => Decision][] = [
    ['another approver', (d) => ({ ...d, approver: 'mallory@example.com' })],
    ['another comment', (d) => ({ ...d, comment: 'lgtm' })],
    ['a downgrade it did not allow', (d) => ({ ...d, allowDowngrade: true })],
    ['another environment', (d) => ({ ...d, environment: 'staging' })],
    ['another version', (d) => ({ ...d, version: '6.6.0' })],
    ['another group', (d) => ({ ...d, authentication: { ...d.authentication!, groups: ['admins'] } })],
    ['another channel', (d) => ({ ...d, authentication: { ...d.authentication!, method: 'approval-key' } })],
  ];
  for (const [name, change] of altered) {
    test(`does not hold for ${name}`, () => {
      const problem = decisionProofProblem([KEY], { ...proven, decision: change(proven.decision) }, at(1000));
      assert.match(problem ?? '', /the signature does not match the decision/);
    });
  }

  test('does not hold for another release, the other verdict, another key, or without a key', () => {
    assert.match(
      decisionProofProblem([KEY], { ...proven, workflowId: 'release/flux-system/podinfo-02/6.7.1' }, at(0)) ?? '',
      /does not match/,
    );
    assert.match(decisionProofProblem([KEY], { ...proven, verdict: 'rejected' }, at(0)) ?? '', /does not match/);
    assert.match(decisionProofProblem(['some-other-key-of-another-baton-0123456789'], proven, at(0)) ?? '', /does not match/);
    assert.match(decisionProofProblem([], proven, at(0)) ?? '', /no BATON_DECISION_KEY/);
    assert.match(decisionProofProblem([KEY], check, at(0)) ?? '', /carries no proof/);
  });

  test('expires, and is not accepted from the future', () => {
    assert.equal(decisionProofProblem([KEY], proven, at(PROOF_LIFETIME_MS - 1)), undefined);
    assert.match(decisionProofProblem([KEY], proven, at(PROOF_LIFETIME_MS + 1)) ?? '', /the proof expired/);
    assert.match(decisionProofProblem([KEY], proven, at(-5 * 60 * 1000)) ?? '', /issued in the future/);
  });

  test('the activity answers with the problem, never the key', async () => {
    const activities = createDecisionProofActivities([KEY]);
    const checkDecisionProof = activities.checkDecisionProof.bind(activities);
    const fresh = { ...check, decision: { ...decision, proof: proveDecision(KEY, check) } };
    assert.deepEqual(await checkDecisionProof(fresh), {});
    const forged = await checkDecisionProof({ ...fresh, decision: { ...fresh.decision, approver: 'mallory' } });
    assert.match(forged.problem ?? '', /does not match/);
    assert.ok(!JSON.stringify(forged).includes(KEY));
  });
});
