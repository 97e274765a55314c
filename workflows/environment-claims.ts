/**
 * The environment-claims workflow: one per (Pipeline, environment), holding the releases that wait
 * at the environment's gate or were promoted into it. Claims are taken one at a time; for each, the
 * one of every pair that loses (the lower version; between versions without an order, the one that
 * got there first) is told about the other (`supersede`) and decides itself whether it yields
 * (`yieldsTo`). Ends once none of its holders runs any more.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ClaimsActivities } from '../model/activities.js';
import { arrivedBefore, CLAIMS_HISTORY_LIMIT, type EnvironmentClaimsInput, precedence } from '../model/environment-claims.js';
import { claimSignal, claimsQuery, type EnvironmentClaim, supersedeSignal } from '../model/messages.js';

/** The loser of a pair of claims is the lower version, not the earlier arrival. */
const CLAIMS_BY_VERSION_PATCH = 'claims-supersede-only-by-higher-version';

/** How long without a claim before checking which holders still run. */
const IDLE_CHECK = '1 day';

export async function environmentClaims(input: EnvironmentClaimsInput): Promise<void> {
  const { closedReleases } = proxyActivities<ClaimsActivities>({
    startToCloseTimeout: '1 minute',
    retry: { maximumInterval: '5 minutes' },
  });
  /** By workflow ID: a release's later claim (promoted after waiting) replaces its earlier one. */
  const holders = new Map<string, EnvironmentClaim>((input.holders ?? []).map((claim) => [claim.workflowId, claim]));
  const inbox: EnvironmentClaim[] = [...(input.pending ?? [])];

  const inArrivalOrder = (): EnvironmentClaim[] => [...holders.values()].sort((a, b) => (arrivedBefore(a, b) ? -1 : 1));
  const show = (): void => {
    const lines = inArrivalOrder().map(
      (claim) =>
        `- ${claim.version}: ${claim.reason === 'waiting' ? 'waiting at the gate' : 'promoted'} since ${claim.at} (${claim.workflowId})`,
    );
    setCurrentDetails(lines.length === 0 ? `No release holds ${input.environment}` : lines.join('\n'));
  };

  setHandler(claimSignal, (claim) => void inbox.push(claim), {
    description: 'A release waits at this environment’s gate or was promoted into it (sent by the release).',
  });
  setHandler(claimsQuery, inArrivalOrder, { description: 'The releases holding this environment, in the order they got there.' });

  /** Tells `holder` about a claim that takes precedence over it; false when the holder no longer runs. */
  const tell = async (holder: EnvironmentClaim, winner: EnvironmentClaim): Promise<boolean> => {
    try {
      await getExternalWorkflowHandle(holder.workflowId).signal(supersedeSignal, winner);
      return true;
    } catch (error) {
      log.info('a holder no longer runs', { workflowId: holder.workflowId, error: error instanceof Error ? error.message : String(error) });
      return false;
    }
  };

  const take = async (claim: EnvironmentClaim): Promise<void> => {
    holders.delete(claim.workflowId);
    // Claims workflows that took claims before versions were ordered told the earlier arrival;
    // they keep doing so, for their histories to replay.
    const byVersion = patched(CLAIMS_BY_VERSION_PATCH);
    const pairs = [...holders.values()].map((holder) =>
      (byVersion ? precedence(claim, holder) !== undefined : arrivedBefore(holder, claim))
        ? { loser: holder, winner: claim }
        : { loser: claim, winner: holder },
    );
    const told = await Promise.all(pairs.map(({ loser, winner }) => tell(loser, winner)));
    let keepClaim = true;
    pairs.forEach(({ loser, winner }, i) => {
      // Only a promoted release outlives a winner that merely waits. Any other loser has yielded,
      // no longer runs, or moved past its gate (and claims again once promoted).
      if (told[i] === true && loser.reason === 'promoted' && winner.reason === 'waiting') return;
      if (loser === claim) keepClaim = false;
      else holders.delete(loser.workflowId);
    });
    if (keepClaim) holders.set(claim.workflowId, claim);
  };

  show();
  for (;;) {
    // Checked before every claim: under a steady stream of claims the inbox may never be empty.
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > CLAIMS_HISTORY_LIMIT) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof environmentClaims>({ ...input, holders: [...holders.values()], pending: [...inbox] });
    }
    const claim = inbox.shift();
    if (claim !== undefined) {
      await take(claim);
      show();
      continue;
    }
    if (await condition(() => inbox.length > 0, IDLE_CHECK)) continue;
    if (holders.size > 0) {
      for (const workflowId of await closedReleases([...holders.keys()])) holders.delete(workflowId);
      show();
    }
    if (holders.size === 0 && inbox.length === 0) return;
  }
}
