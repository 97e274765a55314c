/**
 * A TCP proxy whose answers can be held: while paused, bytes from the server to the client stop
 * (the kernel buffers them) while requests still go through. In front of Temporal, it lets a test
 * catch the gateway between a signal-with-start Temporal carried out and its answer.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface PausableTcpProxy {
  /** `127.0.0.1:PORT`, a Temporal address. */
  address: string;
  /** From now on, holds what the server sends (for good: a test ends the client instead of resuming). */
  pause(): void;
  close(): Promise<void>;
}

export async function startPausableTcpProxy(target: { host: string; port: number }): Promise<PausableTcpProxy> {
  const upstreams = new Set<Socket>();
  const sockets = new Set<Socket>();
  let paused = false;
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    upstreams.add(upstream);
    sockets.add(client);
    if (paused) upstream.pause();
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      upstreams.delete(upstream);
      sockets.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    pause() {
      paused = true;
      // Unpiped, so that piping's own flow control cannot resume the stream behind our back.
      for (const upstream of upstreams) {
        upstream.unpipe();
        upstream.pause();
      }
    },
    close() {
      for (const socket of [...sockets, ...upstreams]) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
