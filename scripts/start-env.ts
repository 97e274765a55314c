/**
 * The environment `npm start` builds its configuration from. config/config.ts's BATON_HOST default
 * (0.0.0.0) suits a container, where the pod network is the only way in; `npm start` runs on a
 * workstation with the example Pipelines, whose HMAC key the README publishes, so it listens on
 * loopback unless BATON_HOST says otherwise. Gateway and worker run in one process there, so they
 * share a decision key made for the run, unless BATON_DECISION_KEY gives one.
 */
import { randomBytes } from 'node:crypto';

export const START_HOST = '127.0.0.1';

export function startEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  return {
    ...env,
    BATON_HOST: env.BATON_HOST || START_HOST,
    BATON_DECISION_KEY: env.BATON_DECISION_KEY || randomBytes(32).toString('base64url'),
  };
}
