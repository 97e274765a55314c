/** A Flux event fixture POSTed to a running gateway, signed as the example Provider signs it. */
import type { PipelineRef } from '../../model/pipeline.js';
import { fixtureBody } from './events.js';
import { fluxHeaders } from './signing.js';

export interface GatewayAnswer {
  workflowId: string;
  runId: string;
  url: string;
  ignored?: boolean;
}

export interface SentEvent {
  status: number;
  location: string | null;
  /** The `Retry-After` of a 429 or 503. */
  retryAfter?: string;
  body: GatewayAnswer;
}

const EXAMPLE_PIPELINE: PipelineRef = { namespace: 'flux-system', name: 'podinfo-02' };

/** The version the fixtures report. */
const FIXTURE_VERSION = '6.7.1';

/**
 * What helm-controller's event for the example Pipeline's app looks like after Flux's Provider:
 * `fixture` from examples/events, reported in `environment`; `namespace` moves the HelmRelease to
 * another target namespace of the Pipeline (the fixtures are in podinfo-02-dev), `version` makes it
 * report another version than 6.7.1.
 */
export async function sendFluxEvent(
  gatewayUrl: string,
  environment: string,
  fixture: string,
  options: { namespace?: string; pipeline?: PipelineRef; version?: string } = {},
): Promise<SentEvent> {
  let body = fixtureBody(fixture);
  if (options.namespace !== undefined) {
    body = Buffer.from(body.toString('utf8').replace('"namespace":"podinfo-02-dev"', `"namespace":"${options.namespace}"`));
  }
  if (options.version !== undefined) body = Buffer.from(body.toString('utf8').replaceAll(FIXTURE_VERSION, options.version));
  const pipeline = options.pipeline ?? EXAMPLE_PIPELINE;
  const response = await fetch(`${gatewayUrl}/promotion/${pipeline.namespace}/${pipeline.name}/${environment}`, {
    method: 'POST',
    headers: fluxHeaders(body),
    body,
  });
  const retryAfter = response.headers.get('retry-after');
  return {
    status: response.status,
    location: response.headers.get('location'),
    ...(retryAfter === null ? {} : { retryAfter }),
    body: (await response.json()) as GatewayAnswer,
  };
}
