/**
 * `npm start` listens on loopback: it serves the example Pipelines, whose HMAC key the README
 * publishes, so anyone who could reach it could sign events. BATON_HOST still wins, and the
 * configuration's own default (what the chart's containers get) stays 0.0.0.0.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { loadConfig } from '../../config/config.js';
import { START_HOST, startEnvironment } from '../../scripts/start-env.js';

describe('npm start environment', () => {
  test('the gateway listens on 127.0.0.1 unless BATON_HOST is set', () => {
    assert.equal(START_HOST, '127.0.0.1');
    assert.equal(loadConfig(startEnvironment({})).gateway.host, '127.0.0.1');
    assert.equal(loadConfig(startEnvironment({ BATON_HOST: '' })).gateway.host, '127.0.0.1');
    assert.equal(loadConfig(startEnvironment({ BATON_HOST: '0.0.0.0' })).gateway.host, '0.0.0.0');
    assert.equal(loadConfig(startEnvironment({ BATON_HOST: '::' })).gateway.host, '::');
    assert.equal(loadConfig({}).gateway.host, '0.0.0.0', 'the production default is unchanged');
  });

  test('keeps every other variable and does not change what it was given', () => {
    const given = { TEMPORAL_ADDRESS: 'temporal:7233', BATON_PORT: '9000' };
    const started = startEnvironment(given);
    assert.deepEqual({ ...started, BATON_DECISION_KEY: undefined }, { ...given, BATON_HOST: '127.0.0.1', BATON_DECISION_KEY: undefined });
    assert.deepEqual(given, { TEMPORAL_ADDRESS: 'temporal:7233', BATON_PORT: '9000' });
  });

  test('gateway and worker share a decision key made for the run, unless BATON_DECISION_KEY gives one', () => {
    const first = loadConfig(startEnvironment({})).decisionKeys;
    const second = loadConfig(startEnvironment({})).decisionKeys;
    assert.equal(first.length, 1);
    assert.ok(first[0]!.length >= 32);
    assert.notEqual(first[0], second[0], 'a fresh key each run, never a published one');
    const given = 'k'.repeat(40);
    assert.deepEqual(loadConfig(startEnvironment({ BATON_DECISION_KEY: given })).decisionKeys, [given]);
    assert.deepEqual(loadConfig({}).decisionKeys, [], 'without npm start, no key unless configured');
  });

  test('scripts/start.ts builds its configuration from that environment', async () => {
    const source = await readFile(new URL('../../scripts/start.ts', import.meta.url), 'utf8');
    assert.match(source, /const env = startEnvironment\(process\.env\);/);
    assert.match(source, /loadConfig\(env\)/);
    assert.doesNotMatch(source, /loadConfig\(process\.env\)/);
  });
});
