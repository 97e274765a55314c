/**
 * The Flux event notifier when nobody answers: the failure is retryable and names the address it
 * could not reach and why, instead of fetch's bare "fetch failed".
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createFluxEventNotifier } from '../../../activities/notify/flux-event.js';
import { promotionMessage } from '../../../activities/notify/notifier.js';
import { freePort } from '../../support/free-port.js';

const base = {
  pipeline: { namespace: 'flux-system', name: 'podinfo-02' },
  sourceEnvironment: 'dev',
  targetEnvironment: 'test',
  version: '6.7.1',
  workflowId: 'release/flux-system/podinfo-02/6.7.1',
};
const notification = { ...base, message: promotionMessage(base) };

function assertUnreachable(error: unknown, address: string, why: RegExp): true {
  assert.ok(error instanceof Error);
  assert.ok(!(error instanceof ApplicationFailure), 'a plain Error: Temporal retries it');
  assert.ok(error.message.startsWith(`could not reach the notification-controller at ${address}: `), error.message);
  assert.match(error.message, why);
  return true;
}

void describe('Flux event notifier, controller unreachable', () => {
  test('nothing listens: retryable, naming the address and the refusal', async () => {
    const address = `http://127.0.0.1:${await freePort()}/`;
    const notifier = createFluxEventNotifier({ address });
    await assert.rejects(notifier.notify(notification), (error) => assertUnreachable(error, address, /ECONNREFUSED/));
  });

  test('the connection is reset: retryable, naming the address', async () => {
    const server = createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const address = `http://127.0.0.1:${port}/`;
    try {
      await assert.rejects(createFluxEventNotifier({ address }).notify(notification), (error) =>
        assertUnreachable(error, address, /fetch failed: .*(ECONNRESET|socket)/i),
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('no answer in time: retryable, naming the address and the timeout', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const address = `http://127.0.0.1:${port}/`;
    try {
      await assert.rejects(createFluxEventNotifier({ address, timeoutMs: 200 }).notify(notification), (error) =>
        assertUnreachable(error, address, /timeout|aborted/i),
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
