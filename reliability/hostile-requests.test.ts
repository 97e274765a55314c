/**
 * Hostile requests against the real gateway, full variant: 10,000 of them, a new seed each run
 * unless BATON_HOSTILE_SEED is set (the seed is printed with the figures, to replay a failure).
 */
import { test } from 'node:test';
import { runHostileRequestScenario } from '../test/reliability/hostile-requests-scenario.js';

const seed = Number(process.env.BATON_HOSTILE_SEED ?? Math.floor(Math.random() * 2 ** 31));

test(
  `10,000 hostile requests (seed ${seed}): no 5xx, no crash, no release started by anything not validly signed`,
  { timeout: 60 * 60_000 },
  (t) => runHostileRequestScenario(t, { seed, count: 10_000 }),
);
