/** Provider clients per (repository, credentials): reused, bounded, the least recently used closed. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientCache, clientKey } from '../../../activities/providers/client-cache.js';
import type { ProviderClient } from '../../../activities/providers/provider.js';

function fakeClient(closed: string[], name: string): ProviderClient {
  return {
    context: { provider: 'github', repository: name, token: 't' },
    findOpen: () => Promise.resolve(undefined),
    create: () => Promise.reject(new Error('unused')),
    update: () => Promise.reject(new Error('unused')),
    status: () => Promise.reject(new Error('unused')),
    close: () => {
      closed.push(name);
      return Promise.resolve();
    },
  };
}

void describe('provider client cache', () => {
  test('one client per repository and credentials; another token or CA is another client', () => {
    const cache = new ClientCache(10);
    const closed: string[] = [];
    const a = cache.get('https://h/o/r', { token: 't1' }, () => fakeClient(closed, 'a'));
    assert.equal(
      cache.get('https://h/o/r', { token: 't1' }, () => fakeClient(closed, 'x')),
      a,
    );
    assert.notEqual(
      cache.get('https://h/o/r', { token: 't2' }, () => fakeClient(closed, 'b')),
      a,
    );
    assert.notEqual(
      cache.get('https://h/o/r', { token: 't1', ca: 'PEM' }, () => fakeClient(closed, 'c')),
      a,
    );
    assert.equal(cache.size, 3);
  });

  test('bounded: the least recently used client is evicted and closed', () => {
    const cache = new ClientCache(2);
    const closed: string[] = [];
    cache.get('https://h/1', { token: 't' }, () => fakeClient(closed, '1'));
    cache.get('https://h/2', { token: 't' }, () => fakeClient(closed, '2'));
    cache.get('https://h/1', { token: 't' }, () => fakeClient(closed, 'again'));
    cache.get('https://h/3', { token: 't' }, () => fakeClient(closed, '3'));
    assert.equal(cache.size, 2);
    assert.deepEqual(closed, ['2']);
  });

  test('the key does not hold the token', () => {
    assert.ok(!clientKey('https://h/o/r', { token: 'bt_s3cr3t_T0KEN' }).includes('bt_s3cr3t_T0KEN'));
  });
});
