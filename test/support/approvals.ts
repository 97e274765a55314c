/**
 * Signed requests to the approval endpoint (`POST /approval/{ns}/{name}/{targetEnv}/{revision}`),
 * as `scripts/approve.ts` sends them: `X-Signature` over `POST\n<path>\n<timestamp>\n<body>`.
 */
import type { InjectOptions } from 'fastify';
import { signApproval, signBody, type SignatureAlgorithm } from '../../gateway/hmac.js';

export interface ApprovalRequestOptions {
  key: string;
  /** Unix seconds (default: now). */
  timestamp?: number;
  algorithm?: SignatureAlgorithm;
  /** Replaces the request's headers after signing (e.g. to tamper with them). */
  headers?: Record<string, string>;
}

export function approvalPath(pipeline: { namespace: string; name: string }, environment: string, revision: string): string {
  return `/approval/${pipeline.namespace}/${pipeline.name}/${encodeURIComponent(environment)}/${encodeURIComponent(revision)}`;
}

/** A signed approval of `path` with `body` (an object is sent as JSON). */
export function signedApproval(path: string, body: object | string | Buffer, options: ApprovalRequestOptions): InjectOptions {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  return {
    method: 'POST',
    url: path,
    headers: {
      'content-type': 'application/json',
      ...signApproval(path, payload, options.key, {
        ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
        ...(options.algorithm === undefined ? {} : { algorithm: options.algorithm }),
      }),
      ...options.headers,
    },
    payload,
  };
}

/** Weave's approval: no body, `X-Signature` over the empty body, no timestamp. */
export function legacyApproval(path: string, key: string): InjectOptions {
  return { method: 'POST', url: path, headers: { 'x-signature': signBody('', key) } };
}
