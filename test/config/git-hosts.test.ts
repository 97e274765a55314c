/** BATON_GIT_HOSTS: read and checked at boot, then handed to the pull-request strategy. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../config/config.js';
import { pullRequestSettings } from '../../worker/dependencies.js';

describe('BATON_GIT_HOSTS', () => {
  test('unset: any host', () => {
    const config = loadConfig({});
    assert.deepEqual(config.gitHosts, []);
    assert.equal(pullRequestSettings(config).allowedHosts?.allows('git.anywhere.example'), true);
  });

  test('host names and *.suffix patterns reach the pull-request settings', () => {
    const config = loadConfig({ BATON_GIT_HOSTS: ' github.com, *.corp.example.com ,' });
    assert.deepEqual(config.gitHosts, ['github.com', '*.corp.example.com']);
    const allowed = pullRequestSettings(config).allowedHosts;
    assert.ok(allowed);
    assert.equal(allowed.allows('github.com'), true);
    assert.equal(allowed.allows('git.corp.example.com'), true);
    assert.equal(allowed.allows('corp.example.com'), false);
    assert.equal(allowed.allows('169.254.169.254'), false);
  });

  test('a value that is not a host pattern stops the boot', () => {
    assert.throws(
      () => loadConfig({ BATON_GIT_HOSTS: 'https://github.com/' }),
      (error: unknown) => error instanceof ConfigError && /BATON_GIT_HOSTS: 'https:\/\/github\.com\/' is neither/.test(error.message),
    );
    assert.throws(() => loadConfig({ BATON_GIT_HOSTS: '*' }), ConfigError);
  });
});
