/** The OIDC settings are checked together at boot: an issuer needs an audience and https. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../config/config.js';

describe('BATON_OIDC_*', () => {
  test('unset: no OIDC, approvals by approval keys only', () => {
    assert.equal(loadConfig({}).gateway.oidc, undefined);
  });

  test('an issuer with its audience, and the claims defaulted', () => {
    const config = loadConfig({ BATON_OIDC_ISSUER: 'https://sso.example.com/realms/ops', BATON_OIDC_AUDIENCE: 'baton' });
    assert.deepEqual(config.gateway.oidc, {
      issuer: 'https://sso.example.com/realms/ops',
      audience: 'baton',
      userClaim: 'email',
      groupsClaim: 'groups',
    });
    const claims = loadConfig({
      BATON_OIDC_ISSUER: 'http://127.0.0.1:5556/dex',
      BATON_OIDC_AUDIENCE: 'baton',
      BATON_OIDC_USER_CLAIM: 'preferred_username',
      BATON_OIDC_GROUPS_CLAIM: 'roles',
    }).gateway.oidc;
    assert.equal(claims?.userClaim, 'preferred_username');
    assert.equal(claims?.groupsClaim, 'roles');
  });

  test('refused: an issuer without an audience, an audience alone, plain http off loopback, not a URL', () => {
    for (const [env, message] of [
      [{ BATON_OIDC_ISSUER: 'https://sso.example.com' }, /needs BATON_OIDC_AUDIENCE/],
      [{ BATON_OIDC_AUDIENCE: 'baton' }, /without BATON_OIDC_ISSUER/],
      [{ BATON_OIDC_ISSUER: 'http://sso.example.com', BATON_OIDC_AUDIENCE: 'baton' }, /must be https/],
      [{ BATON_OIDC_ISSUER: 'sso.example.com', BATON_OIDC_AUDIENCE: 'baton' }, /not a URL/],
      [{ BATON_OIDC_ISSUER: '', BATON_OIDC_AUDIENCE: 'baton' }, /invalid configuration/],
    ] as const) {
      assert.throws(
        () => loadConfig(env),
        (error: Error) => error instanceof ConfigError && message.test(error.message),
        JSON.stringify(env),
      );
    }
  });
});
