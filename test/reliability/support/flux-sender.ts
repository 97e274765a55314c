/**
 * Flux's notification-controller as a sender that does not give up: it POSTs a signed event to the
 * gateway and, on anything but an answer that settles it (2xx, or a 4xx other than 429), sends it
 * again, recording each attempt. Flux itself retries a few times with backoff; this one retries
 * every `intervalMs` until `deadlineMs`, so a test can hold the gateway's dependencies down for
 * as long as it needs.
 */
import { variant, FIXTURES } from '../../support/events.js';
import { fluxHeaders } from '../../support/signing.js';

export interface SendAttempt {
  /** 0: no answer (refused, reset, the gateway died). */
  status: number;
  retryAfter: string | null;
  /** The gateway's `message` on a refusal. */
  message?: string;
}

export interface Delivered {
  version: string;
  attempts: SendAttempt[];
  /** The accepted answer's body. */
  answer: { workflowId: string; runId: string };
}

/** The example Pipeline's dev event for `version` (the fixture with its revision replaced). */
export function devEvent(version: string): Buffer {
  return variant(FIXTURES.upgradeSucceeded, ['6.7.1', version]);
}

export async function sendUntilAccepted(
  gatewayUrl: () => string,
  version: string,
  options: { intervalMs?: number; deadlineMs?: number } = {},
): Promise<Delivered> {
  const body = devEvent(version);
  const attempts: SendAttempt[] = [];
  const deadline = Date.now() + (options.deadlineMs ?? 120_000);
  for (;;) {
    try {
      const response = await fetch(`${gatewayUrl()}/promotion/flux-system/podinfo-02/dev`, {
        method: 'POST',
        headers: fluxHeaders(body),
        body,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      if (response.status === 202) {
        attempts.push({ status: response.status, retryAfter: response.headers.get('retry-after') });
        return { version, attempts, answer: JSON.parse(text) as Delivered['answer'] };
      }
      const { message } = JSON.parse(text) as { message?: string };
      attempts.push({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        ...(message === undefined ? {} : { message }),
      });
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        throw new Error(`the gateway refused ${version}: ${response.status} ${text}`);
      }
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('the gateway refused')) throw error;
      attempts.push({ status: 0, retryAfter: null });
    }
    if (Date.now() > deadline) throw new Error(`${version} not accepted in time: ${JSON.stringify(attempts)}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}
