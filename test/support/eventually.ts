/** Polls until `probe` returns a value (not undefined) or the attempts run out; for waiting on real servers. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, attempts = 200): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i += 1) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}${lastError === undefined ? '' : `: ${String(lastError)}`}`);
}
