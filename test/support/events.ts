/** The Flux event fixtures of examples/events: byte-exact request bodies, as helm-controller sends them. */
import { readFileSync } from 'node:fs';
import type { FluxEvent } from '../../model/flux-event.js';
import { deploymentEvent, eventRevision } from '../../model/flux-event.js';
import type { DeployedSignal } from '../../model/messages.js';

export const FIXTURES = {
  upgradeSucceeded: 'helmrelease-upgrade-succeeded.json',
  installSucceededOci: 'helmrelease-install-succeeded-oci.json',
  upgradeFailed: 'helmrelease-upgrade-failed.json',
  upgradeSucceededPrefixed: 'helmrelease-upgrade-succeeded-prefixed-metadata.json',
  kustomizationSucceeded: 'kustomization-reconciliation-succeeded.json',
} as const;

const EVENTS_DIR = new URL('../../examples/events/', import.meta.url);

/** A fixture's exact bytes. */
export function fixtureBody(name: string): Buffer {
  return readFileSync(new URL(name, EVENTS_DIR));
}

/** A fixture with some of its text replaced (still the fixture's bytes everywhere else). */
export function variant(name: string, ...replacements: [string, string][]): Buffer {
  let text = fixtureBody(name).toString('utf8');
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`${name} does not contain ${from}`);
    text = text.replaceAll(from, to);
  }
  return Buffer.from(text, 'utf8');
}

/** A `deployed` signal as the gateway builds it from a fixture, moved to another environment. */
export function deployedFromFixture(name: string, environment: string, namespace?: string): DeployedSignal {
  const event = JSON.parse(fixtureBody(name).toString('utf8')) as FluxEvent;
  const moved = { ...event, involvedObject: { ...event.involvedObject, namespace: namespace ?? event.involvedObject.namespace } };
  return { environment, receivedAt: new Date().toISOString(), event: deploymentEvent(moved, eventRevision(event) ?? '') };
}
