/**
 * The gateway's view of the versions marked bad: one read of the promotion-controls workflow serves
 * the events of a few seconds, and marks that cannot be read let the event through (fail open: the
 * release reads them again before promoting).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBadVersions } from '../../gateway/bad-versions.js';
import type { PromotionControl } from '../../model/promotion-controls.js';

const MARK: PromotionControl = {
  id: 'bad-3',
  kind: 'bad',
  scope: { pipeline: 'flux-system/podinfo-02' },
  version: '6.7.1',
  reason: 'leaks memory',
  by: 'oncall@example.com',
  at: '2026-12-02T10:00:00.000Z',
};

describe('the marks of bad versions, as the gateway reads them', () => {
  test('a read serves the lookups of its time to live; the next lookup reads again', async () => {
    let clock = 0;
    let reads = 0;
    const marks = createBadVersions(
      {
        list: () => {
          reads += 1;
          return Promise.resolve([MARK]);
        },
      },
      { ttlMs: 5_000, now: () => clock },
    );
    assert.deepEqual(await marks.lookup('flux-system/podinfo-02', '6.7.1'), { mark: MARK });
    assert.deepEqual(await marks.lookup('flux-system/podinfo-02', '6.7.2'), {}, 'another version is not marked');
    assert.deepEqual(await marks.lookup('flux-system/other', '6.7.1'), {}, 'nor the same version of another Pipeline');
    assert.equal(reads, 1);
    clock = 5_000;
    await marks.lookup('flux-system/podinfo-02', '6.7.1');
    assert.equal(reads, 2);
  });

  test('marks that cannot be read, or not in time, are unknown: the lookup says why and finds no mark', async () => {
    const refused = createBadVersions({ list: () => Promise.reject(new Error('Temporal is unavailable')) });
    assert.deepEqual(await refused.lookup('flux-system/podinfo-02', '6.7.1'), { unknown: 'Temporal is unavailable' });
    const hanging = createBadVersions({ list: () => new Promise<PromotionControl[]>(() => undefined) }, { timeoutMs: 10 });
    assert.deepEqual(await hanging.lookup('flux-system/podinfo-02', '6.7.1'), { unknown: 'the marks were not read within 10 ms' });
  });
});
