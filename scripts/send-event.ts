/**
 * `npm run send-event -- <environment> <event.json> [pipeline-namespace/name] [--namespace <ns>]`:
 * POSTs a Flux event to the local gateway signed like a `generic-hmac` Provider, with the example
 * Pipeline's key (BATON_HMAC_KEY overrides it, BATON_GATEWAY_URL the address). `--namespace` moves
 * the event's HelmRelease/Kustomization to another namespace, e.g. a target of the next environment.
 */
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const USAGE = 'usage: npm run send-event -- <environment> <event.json> [namespace/pipeline] [--namespace <object namespace>]';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { namespace: { type: 'string' } } });
  const [environment, file, pipeline = 'flux-system/podinfo-02'] = positionals;
  if (environment === undefined || file === undefined || positionals.length > 3) throw new Error(USAGE);
  const key = process.env.BATON_HMAC_KEY ?? 'baton-example-hmac-key';
  const gateway = process.env.BATON_GATEWAY_URL ?? 'http://localhost:8082';
  let body = await readFile(file);
  const event = JSON.parse(body.toString('utf8')) as { reportingController?: string; involvedObject?: { namespace?: string } };
  if (values.namespace !== undefined) {
    event.involvedObject = { ...event.involvedObject, namespace: values.namespace };
    body = Buffer.from(JSON.stringify(event));
  }
  const response = await fetch(`${gateway}/promotion/${pipeline}/${encodeURIComponent(environment)}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Gotk-Component': event.reportingController ?? 'helm-controller',
      'X-Signature': `sha256=${createHmac('sha256', key).update(body).digest('hex')}`,
    },
    body,
  });
  console.log(`${response.status} ${response.statusText}`);
  console.log(await response.text());
  if (!response.ok) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
