/**
 * Hostile requests against the real gateway, fast variant: 1,000 of them (`npm run reliability` sends
 * 10,000: reliability/hostile-requests.test.ts). BATON_HOSTILE_SEED replays another run's requests.
 */
import { test } from 'node:test';
import { runHostileRequestScenario } from './hostile-requests-scenario.js';

test('1,000 hostile requests: no 5xx, no crash, no release started by anything not validly signed', { timeout: 10 * 60_000 }, (t) =>
  runHostileRequestScenario(t, { seed: Number(process.env.BATON_HOSTILE_SEED ?? 20261202), count: 1000 }),
);
