/**
 * `npm run approve -- <namespace>/<pipeline> <environment> <revision> --approver you@example.com [--comment "…"]`:
 * approves a promotion waiting for `<environment>` through the local gateway's approval endpoint,
 * signed the way it expects: `X-Signature: sha256=<HMAC of "POST\n<path>\n<timestamp>\n<body>">`
 * and `X-Baton-Timestamp: <unix seconds>`, keyed with the example Pipeline's `hmac-key`
 * (BATON_HMAC_KEY overrides it, BATON_GATEWAY_URL the address).
 */
import { parseArgs } from 'node:util';
import { signApproval } from '../gateway/hmac.js';

const USAGE = 'usage: npm run approve -- <namespace>/<pipeline> <environment> <revision> --approver <you@example.com> [--comment <text>]';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { approver: { type: 'string' }, comment: { type: 'string' } },
  });
  const [pipeline, environment, revision] = positionals;
  const [namespace, name, ...rest] = (pipeline ?? '').split('/');
  if (
    !namespace ||
    !name ||
    rest.length > 0 ||
    environment === undefined ||
    revision === undefined ||
    positionals.length !== 3 ||
    !values.approver
  ) {
    throw new Error(USAGE);
  }
  const key = process.env.BATON_HMAC_KEY ?? 'baton-example-hmac-key';
  const gateway = (process.env.BATON_GATEWAY_URL ?? 'http://localhost:8082').replace(/\/+$/, '');
  const path = [namespace, name, environment, revision].map(encodeURIComponent).join('/');
  const url = new URL(`/approval/${path}`, gateway);
  const body = JSON.stringify({ approver: values.approver, ...(values.comment === undefined ? {} : { comment: values.comment }) });
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...signApproval(url.pathname, body, key) },
    body,
  });
  console.log(`${response.status} ${response.statusText}`);
  const location = response.headers.get('location');
  if (location !== null) console.log(`Location: ${location}`);
  console.log(await response.text());
  if (!response.ok) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
