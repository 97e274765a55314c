/** Provider clients kept per (repository, credentials), least recently used evicted and closed. */
import { createHash } from 'node:crypto';
import type { ProviderClient, ProviderCredentials } from './provider.js';

export const DEFAULT_MAX_CLIENTS = 64;

/** A key that identifies the credentials without holding them: a hash of token and CA. */
export function clientKey(repositoryUrl: string, credentials: ProviderCredentials): string {
  const hash = createHash('sha256').update(credentials.token).update('\0');
  if (credentials.ca !== undefined) hash.update(credentials.ca);
  return `${repositoryUrl}\0${hash.digest('hex')}`;
}

export class ClientCache {
  private readonly clients = new Map<string, ProviderClient>();

  constructor(private readonly maxSize = DEFAULT_MAX_CLIENTS) {}

  get size(): number {
    return this.clients.size;
  }

  get(repositoryUrl: string, credentials: ProviderCredentials, build: () => ProviderClient): ProviderClient {
    const key = clientKey(repositoryUrl, credentials);
    const known = this.clients.get(key);
    if (known) {
      // Map order is insertion order: re-inserting marks it the most recently used.
      this.clients.delete(key);
      this.clients.set(key, known);
      return known;
    }
    const client = build();
    this.clients.set(key, client);
    for (const [oldest, evicted] of this.clients) {
      if (this.clients.size <= this.maxSize) break;
      this.clients.delete(oldest);
      // close() lets the requests in flight finish; nothing waits for it.
      evicted.close().catch(() => undefined);
    }
    return client;
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.allSettled(all.map((client) => client.close()));
  }
}
