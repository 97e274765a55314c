/**
 * `npm run approve -- <namespace>/<pipeline> <environment> <revision> --approver you@example.com [--comment "…"]`:
 * approves a promotion waiting for `<environment>` through the local gateway's approval endpoint,
 * with the client `baton approve` uses (cli/gateway-client.ts), and prints the gateway's raw answer.
 * With BATON_APPROVAL_TOKEN it sends `Authorization: Bearer <token>` (an OpenID token; the approver
 * is the token's user, so `--approver` may be left out). Otherwise it signs with an approval key,
 * BATON_APPROVAL_KEY (default: the example Pipeline's prod approval key). BATON_GATEWAY_URL sets
 * the address.
 */
import { parseArgs } from 'node:util';
import { parsePipelineRef } from '../cli/decide.js';
import { sendDecision } from '../cli/gateway-client.js';

const USAGE =
  'usage: npm run approve -- <namespace>/<pipeline> <environment> <revision> --approver <you@example.com> [--comment <text>]' +
  ' (with BATON_APPROVAL_TOKEN, --approver is optional)';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { approver: { type: 'string' }, comment: { type: 'string' } },
  });
  const [reference, environment, revision] = positionals;
  const token = process.env.BATON_APPROVAL_TOKEN;
  const pipeline = parsePipelineRef(reference ?? '');
  if (
    pipeline === undefined ||
    environment === undefined ||
    revision === undefined ||
    positionals.length !== 3 ||
    (!values.approver && token === undefined)
  ) {
    throw new Error(USAGE);
  }
  const outcome = await sendDecision({
    gateway: process.env.BATON_GATEWAY_URL ?? 'http://localhost:8082',
    pipeline,
    environment,
    version: revision,
    decision: 'approve',
    credential:
      token === undefined
        ? { kind: 'key', key: process.env.BATON_APPROVAL_KEY ?? 'baton-example-prod-approval-key' }
        : { kind: 'token', token },
    ...(values.approver === undefined ? {} : { approver: values.approver }),
    ...(values.comment === undefined ? {} : { comment: values.comment }),
  });
  // The gateway was not reached: nothing to show but why.
  if (outcome.kind === 'unavailable' && outcome.answer === undefined) throw new Error(outcome.message);
  const answer = outcome.answer!;
  console.log(`${answer.status} ${answer.statusText}`);
  if (answer.location !== undefined) console.log(`Location: ${answer.location}`);
  console.log(answer.text);
  if (outcome.kind !== 'decided') process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
