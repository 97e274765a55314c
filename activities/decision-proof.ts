/**
 * The gateway's proof that it authenticated a decision: an HMAC with BATON_DECISION_KEY, a key only
 * the gateway and the worker hold, over everything the decision says. Anyone who can signal the
 * release through Temporal can copy a decision from a history, but not make one: a proof binds the
 * verdict, the release, the environment, the approver, the comment, a downgrade it allows and how
 * the approver was authenticated, and it expires. The workflow checks it in a local activity, so the
 * key never enters a history.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DecisionProofActivities, DecisionProofCheck } from '../model/activities.js';
import type { Decision, DecisionAuthentication, DecisionProof } from '../model/release.js';

/** How long a proof stays valid: the gateway delivers a decision within seconds. */
export const PROOF_LIFETIME_MS = 10 * 60 * 1000;
/** Clock skew tolerated between the gateway and the worker. */
const CLOCK_SKEW_MS = 60 * 1000;
const PROOF_VERSION = 'baton-decision-proof-v1';

/** What a proof covers, in a fixed order: field order in a JSON object must not change a signature. */
function provenBytes(
  { workflowId, verdict, decision }: Omit<DecisionProofCheck, 'decision'> & { decision: Decision },
  issuedAt: string,
): string {
  const auth: DecisionAuthentication | undefined = decision.authentication;
  return JSON.stringify([
    PROOF_VERSION,
    issuedAt,
    verdict,
    workflowId,
    decision.environment ?? null,
    decision.version ?? null,
    decision.approver,
    decision.comment ?? null,
    decision.allowDowngrade === true,
    auth === undefined ? null : [auth.method, auth.subject, auth.verified, auth.issuer ?? null, auth.groups ?? null, auth.key ?? null],
  ]);
}

function mac(key: string, bytes: string): Buffer {
  return createHmac('sha256', key).update(bytes).digest();
}

/** Signs `decision` (its `proof` is ignored) for the release `workflowId`. */
export function proveDecision(
  key: string,
  check: Omit<DecisionProofCheck, 'decision'> & { decision: Decision },
  now = new Date(),
): DecisionProof {
  const issuedAt = now.toISOString();
  return { issuedAt, signature: mac(key, provenBytes(check, issuedAt)).toString('base64url') };
}

/** Why the proof on `check.decision` does not hold under any of `keys`, or undefined when it does. */
export function decisionProofProblem(keys: readonly string[], check: DecisionProofCheck, now = Date.now()): string | undefined {
  const { proof } = check.decision;
  if (proof === undefined) return 'the decision carries no proof';
  if (keys.length === 0) return 'this worker has no BATON_DECISION_KEY to check the gateway’s proof with';
  const issuedAt = Date.parse(proof.issuedAt);
  if (Number.isNaN(issuedAt)) return 'the proof has no valid issuedAt';
  if (issuedAt > now + CLOCK_SKEW_MS) return 'the proof was issued in the future';
  if (issuedAt + PROOF_LIFETIME_MS < now)
    return `the proof expired (issued ${proof.issuedAt}, valid for ${PROOF_LIFETIME_MS / 60_000} minutes)`;
  const given = Buffer.from(proof.signature, 'base64url');
  const bytes = provenBytes(check, proof.issuedAt);
  const valid = keys.some((key) => {
    const expected = mac(key, bytes);
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  return valid ? undefined : 'the signature does not match the decision (altered, or not made by this Baton’s gateway)';
}

/** `keys`: BATON_DECISION_KEY, then BATON_DECISION_KEY_PREVIOUS while a rotation is under way. */
export function createDecisionProofActivities(keys: readonly string[]) {
  return {
    checkDecisionProof(check: DecisionProofCheck): Promise<{ problem?: string }> {
      const problem = decisionProofProblem(keys, check);
      return Promise.resolve(problem === undefined ? {} : { problem });
    },
  } satisfies DecisionProofActivities;
}
