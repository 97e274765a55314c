import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SIGNATURE_ALGORITHMS, signBody, verifySignature } from '../../gateway/hmac.js';
import { fixtureBody, FIXTURES } from '../support/events.js';
import { HMAC_KEY } from '../support/signing.js';

const body = fixtureBody(FIXTURES.upgradeSucceeded);
const key = Buffer.from(HMAC_KEY);

describe('X-Signature verification', () => {
  it('accepts what Flux generic-hmac sends: sha256=<lowercase hex> of the raw body', () => {
    const header = `sha256=${createHmac('sha256', HMAC_KEY).update(body).digest('hex')}`;
    assert.equal(signBody(body, HMAC_KEY), header);
    assert.deepEqual(verifySignature(header, body, key), { ok: true, algorithm: 'sha256' });
  });

  for (const algorithm of Object.keys(SIGNATURE_ALGORITHMS) as (keyof typeof SIGNATURE_ALGORITHMS)[]) {
    it(`accepts ${algorithm}`, () => {
      assert.deepEqual(verifySignature(signBody(body, HMAC_KEY, algorithm), body, key), { ok: true, algorithm });
    });
  }

  it('accepts upper-case hex (the same bytes)', () => {
    const [algorithm, hex] = signBody(body, HMAC_KEY).split('=') as [string, string];
    assert.equal(verifySignature(`${algorithm}=${hex.toUpperCase()}`, body, key).ok, true);
  });

  it('refuses other algorithms, even with a correct MAC', () => {
    for (const algorithm of ['sha1', 'md5']) {
      const header = `${algorithm}=${createHmac(algorithm, HMAC_KEY).update(body).digest('hex')}`;
      assert.deepEqual(verifySignature(header, body, key), { ok: false, failure: 'unsupported-algorithm' });
    }
  });

  it('verifies the bytes received, never re-serialised JSON', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8')), null, 2));
    assert.deepEqual(verifySignature(signBody(body, HMAC_KEY), reserialised, key), { ok: false, failure: 'mismatch' });
  });

  it('refuses a wrong key, a truncated or padded MAC, and non-hex digits', () => {
    const good = signBody(body, HMAC_KEY);
    assert.deepEqual(verifySignature(signBody(body, 'another-key'), body, key), { ok: false, failure: 'mismatch' });
    assert.deepEqual(verifySignature(good.slice(0, -2), body, key), { ok: false, failure: 'mismatch' });
    assert.deepEqual(verifySignature(`${good}00`, body, key), { ok: false, failure: 'mismatch' });
    assert.deepEqual(verifySignature(`${good.slice(0, -1)}z`, body, key), { ok: false, failure: 'mismatch' });
  });

  it('says why a header is unusable', () => {
    assert.deepEqual(verifySignature(undefined, body, key), { ok: false, failure: 'missing' });
    assert.deepEqual(verifySignature('', body, key), { ok: false, failure: 'missing' });
    assert.deepEqual(verifySignature('deadbeef', body, key), { ok: false, failure: 'malformed' });
    assert.deepEqual(verifySignature(['a', 'b'], body, key), { ok: false, failure: 'malformed' });
  });
});
