/**
 * The versions marked bad, as the promotion route asks about them for every promoting event: read
 * from the promotion-controls workflow (a query) at most once per `ttlMs`, so a burst of Flux events
 * costs one query, and a mark is seen by every replica within seconds.
 *
 * When the marks cannot be read (Temporal or the workers unreachable, the query slow) the route
 * fails open: the event is delivered as if nothing were marked. Failing closed would drop every
 * event while Temporal is away — Flux does not send an event again once its few retries are spent —
 * and a release started for a marked version still never promotes it: it reads the marks again,
 * durably, right before promoting, and ends there.
 */
import { markOf, type PromotionControl } from '../model/promotion-controls.js';
import type { PromotionControls } from './promotion-controls.js';

export const BAD_VERSIONS_TTL_MS = 5_000;
/** Bound on one read: a query waits for a worker, and the event waits for the query. */
export const BAD_VERSIONS_TIMEOUT_MS = 2_000;

export interface BadVersionLookup {
  /** The mark on the version, if it is marked bad. */
  mark?: PromotionControl;
  /** Set when the marks could not be read: the caller goes on as if the version were not marked. */
  unknown?: string;
}

export interface BadVersions {
  lookup(pipeline: string, version: string): Promise<BadVersionLookup>;
}

type Read = { controls: PromotionControl[] } | { unknown: string };

export function createBadVersions(
  controls: Pick<PromotionControls, 'list'>,
  { ttlMs = BAD_VERSIONS_TTL_MS, timeoutMs = BAD_VERSIONS_TIMEOUT_MS, now = Date.now } = {},
): BadVersions {
  let cached: { read: Promise<Read>; at: number } | undefined;

  async function read(): Promise<Read> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Read>((resolve) => {
      timer = setTimeout(() => resolve({ unknown: `the marks were not read within ${timeoutMs} ms` }), timeoutMs);
    });
    try {
      return await Promise.race([
        controls.list().then(
          (listed): Read => ({ controls: listed }),
          (error: unknown): Read => ({ unknown: error instanceof Error ? error.message : String(error) }),
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async lookup(pipeline, version) {
      // A failed read is kept as long as a good one: while Temporal is away, events do not each wait for it.
      if (cached === undefined || now() - cached.at >= ttlMs) cached = { read: read(), at: now() };
      const result = await cached.read;
      if ('unknown' in result) return { unknown: result.unknown };
      const mark = markOf(result.controls, pipeline, version);
      return mark === undefined ? {} : { mark };
    },
  };
}
