/** Reading the failures of Kubernetes API calls and watches: their status, and what to say about them. */
import { ApiException } from '@kubernetes/client-node';

/** The HTTP status of an API error (ApiException) or a failed watch (`statusCode`). */
export function httpStatus(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The `message` of a Kubernetes Status body, which client-node hands over parsed or as raw JSON. */
function statusMessage(body: unknown): string {
  let status = body;
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body);
    } catch {
      return body.trim();
    }
  }
  const message = (status as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(body).trim();
}

/**
 * A status and the server's own words (or the network error's code), never the request: enough to
 * act on, nothing secret. For API errors (ApiException), watch errors (`statusCode`) and fetch errors.
 */
export function describeKubernetesError(error: unknown): string {
  if (error instanceof ApiException) return `HTTP ${error.code}: ${statusMessage(error.body)}`;
  const status = (error as { statusCode?: unknown } | null | undefined)?.statusCode;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof Error ? (error.cause as { code?: unknown } | undefined)?.code : undefined;
  return [typeof status === 'number' ? `HTTP ${status}:` : '', message, typeof code === 'string' ? `(${code})` : '']
    .filter((part) => part !== '')
    .join(' ');
}
