/** A provider's answer outside 2xx, as the failure mapping reads it, whichever library made the call. */

export class ProviderHttpError extends Error {
  override readonly name = 'ProviderHttpError';
  constructor(
    readonly status: number,
    readonly headers: Headers | Record<string, string | number | undefined>,
    /** The provider's own error message, extracted from its body (may be empty). */
    readonly detail: string,
    /** The parsed JSON body, when there was one. */
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

/** Reads a response body as JSON when it says so, else as text; never throws. */
export async function readBody(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => '');
  if (!/\bjson\b/i.test(response.headers.get('content-type') ?? '')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
