/** Signed Flux deliveries for tests: the example Pipeline's key and the headers Flux's generic-hmac Provider sends. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { signBody, type SignatureAlgorithm } from '../../gateway/hmac.js';

const WEBHOOK_SECRET_FILE = new URL('../../examples/pipelines/podinfo-02-webhook-secret.yaml', import.meta.url);

/** The `hmac-key` of the example Secret, read from the manifest so the two never drift apart. */
export const HMAC_KEY: string = (parse(readFileSync(WEBHOOK_SECRET_FILE, 'utf8')) as { stringData: { 'hmac-key': string } }).stringData[
  'hmac-key'
];

const APPROVAL_SECRET_FILE = new URL('../../examples/pipelines/podinfo-02-approval-secret.yaml', import.meta.url);

/** The example's prod approval key (`approval-key-prod` of the Secret the Pipeline's annotation names). */
export const APPROVAL_KEY: string = (parse(readFileSync(APPROVAL_SECRET_FILE, 'utf8')) as { stringData: { 'approval-key-prod': string } })
  .stringData['approval-key-prod'];

/** The headers of a Flux delivery of `body`, signed with `key` (default: the example key). */
export function fluxHeaders(
  body: Buffer | string,
  options: { key?: string; algorithm?: SignatureAlgorithm } = {},
): { 'content-type': string; 'gotk-component': string; 'x-signature': string } {
  return {
    'content-type': 'application/json',
    'gotk-component': 'helm-controller',
    'x-signature': signBody(body, options.key ?? HMAC_KEY, options.algorithm ?? 'sha256'),
  };
}
