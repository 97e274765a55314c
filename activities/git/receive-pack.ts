/**
 * A push of one ref over smart HTTP (`POST <repo>/git-receive-pack`) that names the old value the
 * ref must still have: git's receive-pack updates it only if it does, under its ref lock, so this
 * is `git push --force-with-lease=<ref>:<old>` done by the server itself.
 *
 * Why not isomorphic-git's `push`: it takes the old value from a fresh ref advertisement (a lease on
 * "now", not on what we built against), and it lists every object of the new commit's trees to
 * decide what to send, which took ~16 s on a 10,000-file repository. We already know
 * the handful of new objects, and isomorphic-git's `packObjects` packs exactly those.
 */
import { Errors, type HttpClient } from 'isomorphic-git';
import { quoteAnswer } from '../http/quote-answer.js';
import { FLUSH_PKT, parsePktLines, pktLine, readBody, singleChunk } from './pkt-line.js';

export const ZERO_OID = '0000000000000000000000000000000000000000';

export interface RefUpdate {
  /** Full ref name, e.g. `refs/heads/promotion-flux-system-podinfo-prod`. */
  ref: string;
  /** The value the remote ref must still have (ZERO_OID: it must not exist). */
  expectedOid: string;
  newOid: string;
}

export type RefUpdateReport = { status: 'ok' } | { status: 'rejected'; reason: string };

export interface ReceivePackRequest {
  http: HttpClient;
  /** The repository URL, without a trailing slash. */
  url: string;
  headers: Record<string, string>;
  update: RefUpdate;
  /** A packfile holding every object the remote needs to have `newOid`. */
  pack: Uint8Array;
  /** Bound on the answer (default: the git limits' maxResponseBytes). */
  maxResponseBytes?: number;
}

/** The request body: one command with the capabilities we rely on, a flush, then the pack. */
function requestBody({ update, pack }: ReceivePackRequest): Buffer {
  // No side-band: the report comes back as plain pkt-lines, all we need to read.
  const command = `${update.expectedOid} ${update.newOid} ${update.ref}\0report-status agent=baton\n`;
  return Buffer.concat([pktLine(command), FLUSH_PKT, pack]);
}

/**
 * The report: `unpack ok`, then `ok <ref>` or `ng <ref> <reason>`. A failed unpack is the server's
 * trouble (disk, quota), not a verdict on the ref: thrown, so the activity retries. The server's
 * words are quoted short and sanitised: they end up in failures, histories and the UI.
 */
function interpretReport(lines: readonly string[], ref: string): RefUpdateReport {
  const unpack = lines.find((line) => line.startsWith('unpack '));
  if (unpack !== undefined && unpack !== 'unpack ok')
    throw new Error(`the git server could not store the pushed objects: ${quoteAnswer(unpack)}`);
  if (lines.includes(`ok ${ref}`)) return { status: 'ok' };
  const ng = lines.find((line) => line.startsWith(`ng ${ref} `));
  return { status: 'rejected', reason: ng === undefined ? `no report for ${ref}` : quoteAnswer(ng.slice(`ng ${ref} `.length)) };
}

/**
 * Sends the update. Resolves with the server's verdict on the ref (a lost lease is a rejection);
 * throws isomorphic-git's HttpError for a non-200 answer, so callers classify one error shape.
 */
export async function sendReceivePack(request: ReceivePackRequest): Promise<RefUpdateReport> {
  const response = await request.http.request({
    url: `${request.url}/git-receive-pack`,
    method: 'POST',
    headers: {
      ...request.headers,
      'content-type': 'application/x-git-receive-pack-request',
      accept: 'application/x-git-receive-pack-result',
    },
    body: singleChunk(requestBody(request)),
  });
  const data = await readBody(response.body, request.maxResponseBytes);
  if (response.statusCode !== 200) {
    throw new Errors.HttpError(response.statusCode, quoteAnswer(response.statusMessage), quoteAnswer(data.toString('utf8')));
  }
  return interpretReport(parsePktLines(data), request.update.ref);
}
