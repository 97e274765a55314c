/**
 * Temporal calls bounded in time, shared by the release starter and the approver, and the error
 * that tells a caller "Temporal cannot take this now, retry later" (the routes answer it with 503).
 */
import { type Client, type GrpcRetryOptions, isGrpcServiceError, isRetryableError } from '@temporalio/client';

/**
 * gRPC retries for a connection the gateway owns. The SDK's default retries for up to ~25 s, far
 * past the signal timeout after which the caller already has its 503 (and Flux retries anyway);
 * and a retry still sleeping when the connection closes throws "Channel has been shut down" from a
 * timer, crashing the process at shutdown. So: a few quick retries, then give up.
 */
export const GATEWAY_GRPC_RETRY: GrpcRetryOptions = {
  retryableDecider: (attempt, status) => attempt < 4 && isRetryableError(status),
  delayFunction: (attempt) => Math.min(1000, 100 * 2 ** (attempt - 1)),
};

/** Temporal could not be reached, or did not answer in time. The caller should retry later. */
export class TemporalUnavailableError extends Error {
  override name = 'TemporalUnavailableError';
}

// gRPC status codes that mean "not now" rather than "never": the server is down, overloaded, or
// did not answer before our deadline. Anything else (unknown namespace, unregistered search
// attribute, permission denied) is a configuration problem and stays a plain error.
const UNAVAILABLE_CODES = new Set([
  1, // CANCELLED: our deadline timer aborted the call
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
  14, // UNAVAILABLE
]);

/** The gRPC error behind an SDK error, when it says "not now"; undefined otherwise. */
function unavailability(error: unknown): Error | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (isGrpcServiceError(e)) return UNAVAILABLE_CODES.has(e.code) ? e : undefined;
  }
  return undefined;
}

/** Whether a Temporal call failed for a reason that may pass ("not now"): worth retrying later. */
export function isTemporalUnavailable(error: unknown): boolean {
  return unavailability(error) !== undefined;
}

/**
 * Temporal calls bounded in time, shared by the release starter and the approver. `run` puts `fn`
 * under a gRPC deadline and also races it against a timer: the client's own retry of UNAVAILABLE
 * answers sleeps between attempts, and a deadline only fails the next attempt. Calls that outlived
 * their answer stay pending until `drain` (call it before closing the connection).
 */
export interface BoundedCalls {
  run<T>(timeoutMs: number, what: string, fn: () => Promise<T>): Promise<T>;
  drain(timeoutMs: number): Promise<void>;
}

export function boundedCalls(client: Client): BoundedCalls {
  /** Calls still running, possibly after their caller got its answer (see `drain`). */
  const pending = new Set<Promise<unknown>>();

  async function run<T>(timeoutMs: number, what: string, fn: () => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new TemporalUnavailableError(`${what}: Temporal did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const call = client.withAbortSignal(controller.signal, () => client.withDeadline(Date.now() + timeoutMs, fn));
    const settled = call.then(
      () => undefined,
      () => undefined, // the losing side of the race must not become an unhandled rejection
    );
    pending.add(settled);
    void settled.then(() => pending.delete(settled));
    try {
      return await Promise.race([call, timeout]);
    } catch (error) {
      if (error instanceof TemporalUnavailableError) throw error;
      const grpcError = unavailability(error);
      if (grpcError !== undefined) {
        throw new TemporalUnavailableError(`${what}: Temporal is unavailable (${grpcError.message})`, { cause: error });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async function drain(timeoutMs: number): Promise<void> {
    if (pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(pending), timeout]);
    clearTimeout(timer);
  }

  return { run, drain };
}

/**
 * The call would exceed a limit Temporal enforces (model/temporal-limits.ts): retrying cannot help,
 * the input must change. Routes answer 422 with the message, which quotes no input.
 */
export class TemporalLimitError extends Error {
  override name = 'TemporalLimitError';
}

/** Throws `TemporalLimitError` with the first problem found, if any. */
export function assertWithinLimits(...problems: (string | undefined)[]): void {
  const problem = problems.find((p) => p !== undefined);
  if (problem !== undefined) throw new TemporalLimitError(problem);
}
