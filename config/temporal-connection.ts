/** Temporal connection options from configuration: plain, mTLS, or API key (Temporal Cloud). */
import { readFile } from 'node:fs/promises';
import type { TLSConfig } from '@temporalio/client';
import type { TemporalConfig } from './config.js';

async function optionalFile(path: string | undefined): Promise<Buffer | undefined> {
  return path === undefined ? undefined : readFile(path);
}

/** Options accepted by both `Connection` (client) and `NativeConnection` (worker). */
export interface TemporalConnectionOptions {
  address: string;
  apiKey?: string;
  tls?: TLSConfig;
}

export async function temporalConnectionOptions(config: TemporalConfig): Promise<TemporalConnectionOptions> {
  const options: TemporalConnectionOptions = { address: config.address };
  if (config.apiKey !== undefined) options.apiKey = config.apiKey;
  if (config.tls !== undefined) {
    const [crt, key, serverRootCACertificate] = await Promise.all([
      optionalFile(config.tls.clientCertPath),
      optionalFile(config.tls.clientKeyPath),
      optionalFile(config.tls.serverRootCaPath),
    ]);
    options.tls = {
      serverNameOverride: config.tls.serverName,
      serverRootCACertificate,
      clientCertPair: crt !== undefined && key !== undefined ? { crt, key } : undefined,
    };
  }
  return options;
}
