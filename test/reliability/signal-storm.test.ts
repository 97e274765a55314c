/**
 * A storm of 2,000 repeated events into one release, delivered as the gateway delivers them, to a
 * release whose runs continue as new every 300 history events (a run that never did would hold
 * more than the 1,300 events a run may reach) (`npm run reliability` sends 10,000
 * through the gateway at the default limit: reliability/signal-storm.test.ts).
 */
import { test } from 'node:test';
import { runSignalStorm } from './signal-storm-scenario.js';

test('2,000 repeats of one event: history bounded by continue-as-new, the release still decides right', (t) =>
  runSignalStorm(t, { events: 2000, via: 'signals', maxHistoryEvents: 300 }));
