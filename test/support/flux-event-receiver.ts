/** An HTTP endpoint on loopback that records the Flux events POSTed to it (where the notification-controller would listen). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedEvent {
  reason: string;
  message: string;
  metadata: Record<string, string>;
  involvedObject: { kind: string; namespace: string; name: string };
}

export interface FluxEventReceiver {
  url: string;
  events: RecordedEvent[];
  close(): Promise<void>;
}

export async function startFluxEventReceiver(): Promise<FluxEventReceiver> {
  const events: RecordedEvent[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      events.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordedEvent);
      response.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    events,
    close: () => new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
