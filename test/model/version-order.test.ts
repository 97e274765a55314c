/** Version precedence: SemVer 2.0 when both versions are SemVer, no order otherwise. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareVersions, isOrdered } from '../../model/version-order.js';

describe('compareVersions', () => {
  const lower: [string, string][] = [
    ['1.9.0', '1.10.0'],
    ['1.0.0', '2.0.0'],
    ['2.0.0', '2.1.0'],
    ['2.1.0', '2.1.1'],
    ['0.0.9', '0.0.10'],
    ['9.9.9', '10.0.0'],
    ['6.7.0', '6.7.1'],
    ['1.0.0', '99999999999999999999.0.0'],
    ['v1.9.0', '1.10.0'],
    ['1.9.0', 'v1.10.0'],
    ['1.0.0-rc.1+build.9', '1.0.0+build.1'],
    ['1.0.0-1', '1.0.0-alpha'],
    ['1.0.0-alpha.2', '1.0.0-alpha.10'],
    ['1.0.0-2', '1.0.0-10'],
    ['v1.9.0', 'v1.10.0'],
    ['v2.0.0-rc.1', '2.0.0'],
    ['2.0.0-rc.2', 'v2.0.0-rc.10'],
    ['1.10.0-beta', '1.10.0'],
    ['1.9.9', '1.10.0-alpha'],
  ];
  // The SemVer 2.0 specification's own chain, each lower than the next.
  const chain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
  for (let i = 0; i + 1 < chain.length; i += 1) lower.push([chain[i]!, chain[i + 1]!]);

  for (const [a, b] of lower) {
    test(`${a} < ${b}`, () => {
      assert.equal(compareVersions(a, b), -1);
      assert.equal(compareVersions(b, a), 1);
    });
  }

  const same: [string, string][] = [
    ['1.2.3', '1.2.3'],
    ['v1.2.3', '1.2.3'],
    ['1.2.3+build.1', '1.2.3+build.2'],
    ['1.2.3-rc.1+a', 'v1.2.3-rc.1'],
  ];
  for (const [a, b] of same) {
    test(`${a} has the precedence of ${b}`, () => {
      assert.equal(compareVersions(a, b), 0);
      assert.equal(compareVersions(b, a), 0);
    });
  }

  const unordered: [string, string][] = [
    ['main@sha1:abc123', '1.0.0'],
    ['1.0.0', 'main@sha1:abc123'],
    ['main@sha1:abc123', 'main@sha1:def456'],
    ['main@sha1:0a1b2c3d4e5f60718293a4b5c6d7e8f901234567', 'v1.0.0'],
    ['v1.0.0@sha1:0a1b2c3d', '1.0.0'],
    ['1.0', '1.0.1'],
    ['01.0.0', '1.0.0'],
    ['1.0.0-01', '1.0.0'],
    ['latest', '1.0.0'],
    ['sha256:0123abcd', '1.0.0'],
    ['V1.0.0', '1.0.0'],
    ['1.0.0-', '1.0.0'],
  ];
  for (const [a, b] of unordered) {
    test(`${a} and ${b} have no order`, () => {
      assert.equal(compareVersions(a, b), undefined);
      assert.equal(compareVersions(b, a), undefined);
    });
  }

  test('isOrdered tells SemVer from other revisions', () => {
    assert.deepEqual(['1.2.3', 'v1.2.3-rc.1+sha.5', 'main@sha1:abc123', '1.2'].map(isOrdered), [true, true, false, false]);
  });
});
