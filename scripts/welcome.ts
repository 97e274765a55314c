/** What `npm start` prints once everything runs: where to look and what to paste. */
import type { Config } from '../config/config.js';

const EXAMPLE = {
  pipeline: 'flux-system/podinfo-02',
  event: 'examples/events/helmrelease-upgrade-succeeded.json',
  hmacKey: 'baton-example-hmac-key',
};

export function welcome(options: { config: Config; gatewayUrl: string; embedded: boolean }): string {
  const { config, gatewayUrl, embedded } = options;
  const base = gatewayUrl.replace('0.0.0.0', 'localhost').replace('127.0.0.1', 'localhost');
  return `
Baton is running.
  Temporal UI   ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows${embedded ? '   (local dev server)' : ''}
  Gateway       ${base}   (POST /promotion/{namespace}/{pipeline}/{environment})
  Pipelines     ${config.pipelines.kind === 'directory' ? config.pipelines.directory : 'Kubernetes'}

Send the signed Flux event "podinfo 6.7.1 upgraded in dev" (as a generic-hmac Provider would):

  body=${EXAMPLE.event}
  curl -sS -X POST ${base}/promotion/${EXAMPLE.pipeline}/dev \\
    -H 'Content-Type: application/json' -H 'Gotk-Component: helm-controller' \\
    -H "X-Signature: sha256=$(openssl dgst -sha256 -hmac ${EXAMPLE.hmacKey} < $body | sed 's/^.* //')" \\
    --data-binary @$body

or: npm run send-event -- dev ${EXAMPLE.event}

Then open the release in the Temporal UI. prod waits for an approval and for its change window
(Mon-Thu 09:00-16:00, Fri 09:00-12:00 Europe/Berlin): README, "Promotion policies", shows how to
watch the window hold a promotion. Ctrl-C stops Baton${embedded ? ' and the dev server (its state is kept)' : ''}.
`;
}
