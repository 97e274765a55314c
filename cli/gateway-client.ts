/**
 * A decision sent to the gateway: `POST /approval/…` (approve) or `POST /rejection/…` (reject), with
 * an OpenID token or signed with an approval key exactly as the gateway verifies it (the signing code
 * is the gateway's own, gateway/hmac.ts). Shared by `baton approve|reject` and `npm run approve`.
 * The answer is sorted into what a caller acts on: decided, refused (sending the same again cannot
 * help), or unavailable (retry later). Nothing here ever puts a token or a key into a message.
 */
import { signApproval } from '../gateway/hmac.js';
import { decisionPath, type DecisionKind } from '../model/decision-path.js';
import type { PipelineRef } from '../model/pipeline.js';

export { decisionPath, type DecisionKind } from '../model/decision-path.js';

/** How the approver proves who they are: a bearer token, or the bytes of an approval key. */
export type Credential = { kind: 'token'; token: string } | { kind: 'key'; key: Buffer | string };

export interface DecisionRequest {
  /** The gateway's base URL, e.g. `http://127.0.0.1:8082`. */
  gateway: string;
  pipeline: PipelineRef;
  environment: string;
  version: string;
  decision: DecisionKind;
  /** Required with a key; with a token the gateway takes the token's user. */
  approver?: string;
  comment?: string;
  /** approve only: promote even when a higher version is already in the environment. */
  allowDowngrade?: boolean;
  credential: Credential;
  /** Bound on the whole exchange (default 30 s). */
  timeoutMs?: number;
}

/** What the gateway said, for callers that show the raw answer (`npm run approve`). */
export interface GatewayAnswer {
  status: number;
  statusText: string;
  location?: string;
  text: string;
  /** The JSON body, when the answer was JSON. */
  body?: unknown;
}

export type DecisionOutcome =
  | { kind: 'decided'; answer: GatewayAnswer }
  /** `message` is ready to print: the gateway's own words, prefixed with what the status means. */
  | { kind: 'refused'; message: string; answer: GatewayAnswer }
  /** The gateway could not be reached, or asked to retry later (429, 503, another 5xx). */
  | { kind: 'unavailable'; message: string; answer?: GatewayAnswer };

/** The gateway's origin for messages: without any user:password a URL might carry. */
export function displayGateway(gateway: string): string {
  try {
    return new URL(gateway).origin;
  } catch {
    return '(invalid URL)';
  }
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'no answer in time';
  // undici says "fetch failed" and keeps the reason (ECONNREFUSED, ENOTFOUND…) in `cause`.
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  // Not the message: fetch's own errors (e.g. an invalid header value) quote what they refuse.
  return error instanceof Error ? error.name : 'unknown error';
}

function gatewayWords(answer: GatewayAnswer): string {
  const body = answer.body as { message?: unknown; reason?: unknown } | undefined;
  const message = typeof body?.message === 'string' ? body.message : answer.text.trim() || answer.statusText;
  return typeof body?.reason === 'string' ? `${message}: ${body.reason}` : message;
}

/** Sorts an answer by status: what it means for the caller, in the gateway's words. */
export function classifyAnswer(answer: GatewayAnswer, retryAfter: string | null): DecisionOutcome {
  const { status } = answer;
  if (status >= 200 && status < 300) return { kind: 'decided', answer };
  const words = gatewayWords(answer);
  if (status === 429 || status >= 500) {
    const later = retryAfter === null ? 'retry later' : `retry in ${retryAfter} s`;
    return { kind: 'unavailable', message: `temporarily unavailable (${status}), ${later}: ${words}`, answer };
  }
  const meaning: Record<number, string> = {
    400: 'bad request',
    401: 'credentials refused',
    403: 'forbidden',
    404: 'no such pipeline',
    422: 'refused',
  };
  return { kind: 'refused', message: `${meaning[status] ?? `refused (${status})`}: ${words}`, answer };
}

export async function sendDecision(request: DecisionRequest, fetchImpl: typeof fetch = fetch): Promise<DecisionOutcome> {
  const path = decisionPath(request.decision, request.pipeline, request.environment, request.version);
  let url: URL;
  try {
    url = new URL(path, request.gateway);
  } catch {
    return { kind: 'unavailable', message: `the gateway URL is not a URL: ${displayGateway(request.gateway)}` };
  }
  // fetch refuses a URL with user:password and quotes it whole in its error; the gateway reads no
  // such credentials anyway.
  url.username = '';
  url.password = '';
  // The path signed must be the path sent: URL may normalise it, so sign what it will send.
  const body = JSON.stringify({
    ...(request.approver === undefined ? {} : { approver: request.approver }),
    ...(request.comment === undefined ? {} : { comment: request.comment }),
    ...(request.allowDowngrade === true ? { allowDowngrade: true } : {}),
  });
  const credentials: Record<string, string> =
    request.credential.kind === 'token'
      ? { authorization: `Bearer ${request.credential.token}` }
      : signApproval(url.pathname, body, request.credential.key);
  let response: Response;
  let text: string;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...credentials },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs ?? 30_000),
    });
    text = await response.text();
  } catch (error) {
    return {
      kind: 'unavailable',
      message: `the gateway at ${displayGateway(request.gateway)} could not be reached (${describeNetworkError(error)}); retry later`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const location = response.headers.get('location');
  const answer: GatewayAnswer = {
    status: response.status,
    statusText: response.statusText,
    ...(location === null ? {} : { location }),
    text,
    ...(parsed === undefined ? {} : { body: parsed }),
  };
  return classifyAnswer(answer, response.headers.get('retry-after'));
}
