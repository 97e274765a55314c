/** A storm of 10,000 repeated Flux events into one release, through the gateway, at the default history limit. */
import { test } from 'node:test';
import { runSignalStorm } from '../test/reliability/signal-storm-scenario.js';

test(
  '10,000 repeats of one event through the gateway: history bounded by continue-as-new, the release still decides right',
  { timeout: 30 * 60_000 },
  (t) => runSignalStorm(t, { events: 10_000, via: 'gateway' }),
);
