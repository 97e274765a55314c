/**
 * `npm run approve -- <namespace>/<pipeline> <environment> <revision> --approver you@example.com [--comment "…"]`:
 * approves a promotion waiting for `<environment>` through the local gateway's approval endpoint.
 * With BATON_APPROVAL_TOKEN it sends `Authorization: Bearer <token>` (an OpenID token; the approver
 * is the token's user, so `--approver` may be left out). Otherwise it signs with an approval key:
 * `X-Signature: sha256=<HMAC of "POST\n<path>\n<timestamp>\n<body>">` and `X-Baton-Timestamp`,
 * keyed with BATON_APPROVAL_KEY (default: the example Pipeline's prod approval key).
 * BATON_GATEWAY_URL sets the address.
 */
import { parseArgs } from 'node:util';
import { signApproval } from '../gateway/hmac.js';

const USAGE =
  'usage: npm run approve -- <namespace>/<pipeline> <environment> <revision> --approver <you@example.com> [--comment <text>]' +
  ' (with BATON_APPROVAL_TOKEN, --approver is optional)';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { approver: { type: 'string' }, comment: { type: 'string' } },
  });
  const [pipeline, environment, revision] = positionals;
  const token = process.env.BATON_APPROVAL_TOKEN;
  const [namespace, name, ...rest] = (pipeline ?? '').split('/');
  if (
    !namespace ||
    !name ||
    rest.length > 0 ||
    environment === undefined ||
    revision === undefined ||
    positionals.length !== 3 ||
    (!values.approver && token === undefined)
  ) {
    throw new Error(USAGE);
  }
  const key = process.env.BATON_APPROVAL_KEY ?? 'baton-example-prod-approval-key';
  const gateway = (process.env.BATON_GATEWAY_URL ?? 'http://localhost:8082').replace(/\/+$/, '');
  const path = [namespace, name, environment, revision].map(encodeURIComponent).join('/');
  const url = new URL(`/approval/${path}`, gateway);
  const body = JSON.stringify({
    ...(values.approver === undefined ? {} : { approver: values.approver }),
    ...(values.comment === undefined ? {} : { comment: values.comment }),
  });
  const credentials = token === undefined ? signApproval(url.pathname, body, key) : { Authorization: `Bearer ${token}` };
  const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...credentials }, body });
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
