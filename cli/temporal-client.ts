/**
 * The CLI commands that talk to Temporal directly connect as the worker and the gateway do
 * (config/: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key), bounded in time.
 */
import { Connection } from '@temporalio/client';
import type { TemporalConfig } from '../config/config.js';
import { temporalConnectionOptions } from '../config/temporal-connection.js';
import type { CommandIo } from './markers.js';

/** Bound on connecting, and on each call a command makes. */
export const TEMPORAL_TIMEOUT_MS = 10_000;

/** The connection, or undefined once `io` was told Temporal cannot be reached (exit code 3). */
export async function connectToTemporal(temporal: TemporalConfig, io: CommandIo): Promise<Connection | undefined> {
  try {
    return await Connection.connect({ ...(await temporalConnectionOptions(temporal)), connectTimeout: TEMPORAL_TIMEOUT_MS });
  } catch (error) {
    io.stderr(
      `error: Temporal at ${temporal.address} could not be reached (${error instanceof Error ? error.message : String(error)}); retry later\n`,
    );
    return undefined;
  }
}
