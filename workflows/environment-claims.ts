/**
 * The environment-claims workflow: one per (Pipeline, environment), holding the releases that wait
 * at the environment's gate or were promoted into it. Claims are taken one at a time; for each, the
 * one of every pair that loses (the lower version; between versions without an order, the one that
 * got there first) is told about the other (`supersede`) and decides itself whether it yields
 * (`yieldsTo`). Ends once none of its holders runs any more.
 *
 * For a Pipeline that queues versions nobody yields, but nothing may be downgraded unasked: its
 * releases send `queued` claims, and this workflow remembers the version promoted last into the
 * environment and tells the releases waiting at its gate about each new one. That memory is why
 * it then keeps running (idle, without timers) after its releases have ended.
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
import {
  claimSignal,
  claimsQuery,
  type EnvironmentClaim,
  environmentPromotedSignal,
  promotedQuery,
  supersedeSignal,
} from '../model/messages.js';

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
  // Queue mode. Only `queued` claims fill these, and only releases that know about them send such
  // claims: histories recorded before them replay unchanged without a patch.
  let promoted = input.promoted;
  const queuedWaiting = new Map<string, EnvironmentClaim>((input.queuedWaiting ?? []).map((claim) => [claim.workflowId, claim]));

  const inArrivalOrder = (): EnvironmentClaim[] => [...holders.values()].sort((a, b) => (arrivedBefore(a, b) ? -1 : 1));
  const show = (): void => {
    const lines = inArrivalOrder().map(
      (claim) =>
        `- ${claim.version}: ${claim.reason === 'waiting' ? 'waiting at the gate' : 'promoted'} since ${claim.at} (${claim.workflowId})`,
    );
    for (const claim of queuedWaiting.values())
      lines.push(`- ${claim.version}: waiting at the gate since ${claim.at} (${claim.workflowId})`);
    if (promoted !== undefined) lines.push(`Promoted last: ${promoted.version} at ${promoted.at} (${promoted.workflowId})`);
    setCurrentDetails(lines.length === 0 ? `No release holds ${input.environment}` : lines.join('\n'));
  };

  setHandler(claimSignal, (claim) => void inbox.push(claim), {
    description: 'A release waits at this environment’s gate or was promoted into it (sent by the release).',
  });
  setHandler(claimsQuery, inArrivalOrder, { description: 'The releases holding this environment, in the order they got there.' });
  setHandler(promotedQuery, () => promoted, {
    description: 'For a Pipeline that queues versions: the version promoted last into this environment.',
  });

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

  /** Tells the releases waiting at the gate (or only `waiting`) which version was promoted last; forgets those that ended. */
  const tellWaiting = async (recipients: EnvironmentClaim[]): Promise<void> => {
    if (promoted === undefined) return;
    const last = promoted;
    const told = await Promise.all(
      recipients.map(async (waiting) => {
        try {
          await getExternalWorkflowHandle(waiting.workflowId).signal(environmentPromotedSignal, last);
          return true;
        } catch {
          return false;
        }
      }),
    );
    recipients.forEach((waiting, i) => {
      if (told[i] !== true) queuedWaiting.delete(waiting.workflowId);
    });
  };

  const takeQueued = async (claim: EnvironmentClaim): Promise<void> => {
    if (claim.reason === 'waiting') {
      queuedWaiting.set(claim.workflowId, claim);
      return tellWaiting([claim]);
    }
    queuedWaiting.delete(claim.workflowId);
    promoted = claim;
    return tellWaiting([...queuedWaiting.values()]);
  };

  const take = async (claim: EnvironmentClaim): Promise<void> => {
    if (claim.queued === true) return takeQueued(claim);
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
      return continueAsNew<typeof environmentClaims>({
        ...input,
        holders: [...holders.values()],
        pending: [...inbox],
        ...(promoted === undefined ? {} : { promoted }),
        ...(queuedWaiting.size === 0 ? {} : { queuedWaiting: [...queuedWaiting.values()] }),
      });
    }
    const claim = inbox.shift();
    if (claim !== undefined) {
      await take(claim);
      show();
      continue;
    }
    if (holders.size === 0 && queuedWaiting.size === 0 && promoted !== undefined) {
      // Nothing to check on: only the memory of what was promoted, kept until the next claim.
      await condition(() => inbox.length > 0 || workflowInfo().continueAsNewSuggested);
      continue;
    }
    if (await condition(() => inbox.length > 0, IDLE_CHECK)) continue;
    if (holders.size > 0 || queuedWaiting.size > 0) {
      const closed = await closedReleases([...holders.keys(), ...queuedWaiting.keys()]);
      for (const workflowId of closed) {
        holders.delete(workflowId);
        queuedWaiting.delete(workflowId);
      }
      show();
    }
    if (holders.size === 0 && queuedWaiting.size === 0 && inbox.length === 0 && promoted === undefined) return;
  }
}
