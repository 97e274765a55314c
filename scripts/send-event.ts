/**
 * `npm run send-event -- <environment> <event.json> [pipeline-namespace/name]`: POSTs a Flux event
 * to the local gateway signed like a `generic-hmac` Provider, with the example Pipeline's key
 * (BATON_HMAC_KEY overrides it, BATON_GATEWAY_URL the address).
 */
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

async function main(): Promise<void> {
  const [environment, file, pipeline = 'flux-system/podinfo-02'] = process.argv.slice(2);
  if (environment === undefined || file === undefined) {
    throw new Error('usage: npm run send-event -- <environment> <event.json> [namespace/pipeline]');
  }
  const key = process.env.BATON_HMAC_KEY ?? 'baton-example-hmac-key';
  const gateway = process.env.BATON_GATEWAY_URL ?? 'http://localhost:8082';
  const body = await readFile(file);
  const event = JSON.parse(body.toString('utf8')) as { reportingController?: string };
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
