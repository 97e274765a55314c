/**
 * Signatures of approval requests seen recently, so the same signed request is not accepted twice
 * by this replica. Entries live until their timestamp leaves the acceptance window (after that the
 * timestamp check refuses the request anyway), and the cache holds at most `maxEntries`: when full,
 * expired entries go first, then the oldest.
 *
 * This is per process. Across replicas (or after an eviction or a restart) a replayed approval may
 * reach Temporal again, and there the release workflow's Update validator refuses a second decision
 * for the same gate: a replay can never decide twice, at worst it is answered 422 instead of 401.
 */
export class ReplayCache {
  /** Signature → when it may be forgotten (ms since the epoch). Map order = insertion order. */
  private readonly seen = new Map<string, number>();

  constructor(
    readonly maxEntries: number = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /**
   * Records `signature` until `expiresAt`; false when it was already recorded (and not yet expired),
   * i.e. the request is a replay.
   */
  claim(signature: string, expiresAt: number): boolean {
    const now = this.now();
    const known = this.seen.get(signature);
    if (known !== undefined && known > now) return false;
    this.seen.delete(signature);
    if (this.seen.size >= this.maxEntries) this.evict(now);
    this.seen.set(signature, expiresAt);
    return true;
  }

  /** Forgets a claimed signature: its request changed nothing (e.g. Temporal was down), so the caller may retry it. */
  release(signature: string): void {
    this.seen.delete(signature);
  }

  private evict(now: number): void {
    for (const [signature, expiresAt] of this.seen) {
      if (expiresAt <= now) this.seen.delete(signature);
    }
    // Still full: drop the oldest. Their replays reach the workflow, which refuses a second decision.
    for (const signature of this.seen.keys()) {
      if (this.seen.size < this.maxEntries) break;
      this.seen.delete(signature);
    }
  }
}
