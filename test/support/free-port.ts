import { createServer } from 'node:net';

/**
 * A TCP port free on loopback right now: for servers that cannot listen on port 0 themselves, and
 * as an address nothing listens on (a Temporal that is down).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
