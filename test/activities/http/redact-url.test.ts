/** URLs quoted in failures, logs and histories: credentials, queries and control characters never pass. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { redactUrl } from '../../../activities/http/redact-url.js';

void describe('redactUrl', () => {
  test('userinfo is replaced, whether user, password or both', () => {
    assert.equal(redactUrl('https://bot:s3cret@git.example.com/o/r.git'), 'https://***@git.example.com/o/r.git');
    assert.equal(redactUrl('https://s3cret@git.example.com/o/r'), 'https://***@git.example.com/o/r');
    assert.equal(redactUrl('https://:s3cret@git.example.com/o/r'), 'https://***@git.example.com/o/r');
    assert.equal(redactUrl('https://git.example.com:8443/o/r'), 'https://git.example.com:8443/o/r');
  });

  test('query strings and fragments, where tokens also travel, are dropped', () => {
    assert.equal(redactUrl('https://git.example.com/o/r?private_token=s3cret#frag'), 'https://git.example.com/o/r');
  });

  test('text that is not a URL is quoted only after its last @', () => {
    assert.equal(redactUrl('bot:s3cret@git.example.com/o/r'), '***@git.example.com/o/r');
    assert.equal(redactUrl('https://bot:s3cr@t@ bad host/o'), '***@ bad host/o');
    assert.equal(redactUrl('not a url'), 'not a url');
  });

  test('control characters are replaced and the result is at most 200 characters and an ellipsis', () => {
    assert.equal(redactUrl('git.example.com/o\n/r\u0007'), 'git.example.com/o?/r?');
    const long = redactUrl(`https://git.example.com/${'a'.repeat(1_000)}`);
    assert.equal(long.length, 201);
    assert.ok(long.endsWith('…'));
  });

  test('no credential survives, whatever the shape', () => {
    for (const url of [
      'https://bot:s3cret@host/x',
      'http://s3cret@host',
      'ssh://git:s3cret@host:22/x',
      's3cret@host',
      'bot:s3cret@host/x',
      'mailto:s3cret@host',
      'https://host/x?token=s3cret',
      'https://host/x#s3cret',
      'https://bot:s3cret@[::1]:99/x',
    ]) {
      assert.ok(!redactUrl(url).includes('s3cret'), `${url} → ${redactUrl(url)}`);
    }
  });
});
