/** The Flux event fixtures of ../shared (byte-exact request bodies) and their signatures. */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FluxEvent } from '../../model/flux-event.js';
import { deploymentEvent, eventRevision } from '../../model/flux-event.js';
import type { DeployedSignal } from '../../model/messages.js';

export const EXAMPLE_HMAC_KEY = 'baton-example-hmac-key';

export const FIXTURES = {
  upgradeSucceeded: 'helmrelease-upgrade-succeeded.json',
  installSucceededOci: 'helmrelease-install-succeeded-oci.json',
  upgradeFailed: 'helmrelease-upgrade-failed.json',
  upgradeSucceededPrefixed: 'helmrelease-upgrade-succeeded-prefixed-metadata.json',
  kustomizationSucceeded: 'kustomization-reconciliation-succeeded.json',
} as const;

export function fixtureBody(name: string): Buffer {
  return readFileSync(new URL(`../../examples/events/${name}`, import.meta.url));
}

export function sign(body: Buffer | string, key = EXAMPLE_HMAC_KEY, algorithm = 'sha256'): string {
  return `${algorithm}=${createHmac(algorithm, key).update(body).digest('hex')}`;
}

/** A `deployed` signal as the gateway builds it from a fixture, moved to another environment. */
export function deployedFromFixture(name: string, environment: string, namespace?: string): DeployedSignal {
  const event = JSON.parse(fixtureBody(name).toString('utf8')) as FluxEvent;
  const moved = { ...event, involvedObject: { ...event.involvedObject, namespace: namespace ?? event.involvedObject.namespace } };
  return { environment, receivedAt: new Date().toISOString(), event: deploymentEvent(moved, eventRevision(event) ?? '') };
}
