/**
 * Soak: many releases through the notification strategy, paced over several minutes, against the
 * worker and gateway processes on a Temporal dev server. Lanes of Pipelines (dev → prod, no gate)
 * each take their versions in order: Flux reports a version in dev (signed, through the gateway),
 * the release promotes it into prod (a `Promote` event at the receiver), Flux reports it in prod,
 * and the release completes before the lane's next version comes. Asserted: every release
 * completed, every version promoted exactly once (none lost, none doubled), no process exited or
 * logged an error. Reported: throughput, and the gateway's and worker's resident sets at the
 * start, the middle and the end.
 *
 * BATON_SOAK_RELEASES (default 10,000) and BATON_SOAK_MINUTES (default 10) set the size and pace.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ReleasePhase, type ReleaseState } from '../model/release.js';
import { type MemoryFigures, mib } from '../test/support/measured-processes.js';
import { fixtureBody, FIXTURES } from '../test/support/events.js';
import { startProcessStack } from '../test/support/process-stack.js';
import { fluxHeaders } from '../test/support/signing.js';

const RELEASES = Number(process.env.BATON_SOAK_RELEASES ?? 10_000);
const MINUTES = Number(process.env.BATON_SOAK_MINUTES ?? 10);
const LANES = 32;
const KEY = 'soak-webhook-key';

function lanePipeline(lane: number): string {
  return `apiVersion: pipelines.weave.works/v1alpha1
kind: Pipeline
metadata: {name: soak-${lane}, namespace: flux-system}
spec:
  appRef: {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: podinfo}
  environments:
    - name: dev
      targets: [{namespace: podinfo-02-dev}]
    - name: prod
      targets: [{namespace: podinfo-02-prod}]
  promotion:
    strategy:
      notification: {}
      secretRef: {name: soak-webhook}
---
`;
}

const SECRET = `apiVersion: v1
kind: Secret
metadata: {name: soak-webhook, namespace: flux-system}
stringData: {hmac-key: ${KEY}}
`;

/** Counts the `Promote` events per (Pipeline, version, environment), and wakes whoever waits for one. */
async function startPromoteCounter(): Promise<{
  url: string;
  counts: Map<string, number>;
  waitFor(key: string): Promise<void>;
  close(): Promise<void>;
}> {
  const counts = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        reason: string;
        involvedObject: { name: string };
        metadata: Record<string, string>;
      };
      if (event.reason === 'Promote') {
        const key = `${event.involvedObject.name}/${event.metadata['pipelines.weave.works/version']}/${event.metadata['pipelines.weave.works/environment']}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        waiters.get(key)?.();
        waiters.delete(key);
      }
      response.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    counts,
    waitFor: (key) => (counts.has(key) ? Promise.resolve() : new Promise((resolve) => waiters.set(key, resolve))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test(
  `soak: ${RELEASES} releases through the notification strategy over about ${MINUTES} minutes`,
  { timeout: (MINUTES + 30) * 60_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-soak-'));
    await writeFile(join(dir, 'pipelines.yaml'), Array.from({ length: LANES }, (_, lane) => lanePipeline(lane)).join(''));
    await writeFile(join(dir, 'secret.yaml'), SECRET);
    const promotes = await startPromoteCounter();
    const stack = await startProcessStack({ pipelinesDir: dir, env: { BATON_EVENTS_ADDRESS: promotes.url } });
    try {
      const { gateway, worker, temporal } = stack;
      const fixture = fixtureBody(FIXTURES.upgradeSucceeded).toString('utf8');
      const send = async (lane: number, version: string, environment: 'dev' | 'prod'): Promise<void> => {
        const body = fixture
          .replace('"revision":"6.7.1"', `"revision":"${version}"`)
          .replace('"namespace":"podinfo-02-dev"', `"namespace":"podinfo-02-${environment}"`);
        const response = await fetch(`${gateway.url}/promotion/flux-system/soak-${lane}/${environment}`, {
          method: 'POST',
          headers: fluxHeaders(body, { key: KEY }),
          body,
        });
        assert.equal(response.status, 202, `soak-${lane} ${version} ${environment}: ${await response.text()}`);
      };

      const memory: Record<string, { gateway: MemoryFigures; worker: MemoryFigures }> = {};
      const sample = async (): Promise<{ gateway: MemoryFigures; worker: MemoryFigures }> => ({
        gateway: await gateway.memory(),
        worker: await worker.memory(),
      });
      memory.start = await sample();
      const started = Date.now();
      const intervalMs = (MINUTES * 60_000) / RELEASES;
      let issued = 0;
      let completed = 0;
      const phases = new Map<string, number>();
      /** Paces the whole soak: the n-th release starts no earlier than n × interval. */
      const nextSlot = async (): Promise<number | undefined> => {
        if (issued >= RELEASES) return undefined;
        const n = issued++;
        const wait = started + n * intervalMs - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        return n;
      };
      const lane = async (index: number): Promise<void> => {
        for (let n = await nextSlot(), i = 0; n !== undefined; n = await nextSlot(), i++) {
          const version = `1.${index}.${i}`;
          await send(index, version, 'dev');
          await promotes.waitFor(`soak-${index}/${version}/prod`);
          await send(index, version, 'prod');
          const state = (await temporal.client.workflow.getHandle(`release/flux-system/soak-${index}/${version}`).result()) as ReleaseState;
          phases.set(state.phase, (phases.get(state.phase) ?? 0) + 1);
          completed += 1;
          if (completed === Math.floor(RELEASES / 2)) memory.middle = await sample();
          if (completed % 1000 === 0) t.diagnostic(`${completed} releases completed after ${Math.round((Date.now() - started) / 1000)} s`);
        }
      };
      await Promise.all(Array.from({ length: LANES }, (_, index) => lane(index)));
      const seconds = (Date.now() - started) / 1000;
      memory.end = await sample();

      const lost = RELEASES - promotes.counts.size;
      const doubled = [...promotes.counts.values()].filter((count) => count > 1).length;
      const figures = {
        releases: RELEASES,
        lanes: LANES,
        seconds: Math.round(seconds),
        releasesPerSecond: Math.round((RELEASES / seconds) * 10) / 10,
        phases: Object.fromEntries(phases),
        promotesLost: lost,
        promotesDoubled: doubled,
        gatewayRss: Object.fromEntries(Object.entries(memory).map(([at, m]) => [at, mib(m.gateway.rssBytes)])),
        workerRss: Object.fromEntries(Object.entries(memory).map(([at, m]) => [at, mib(m.worker.rssBytes)])),
        peakRss: { gateway: mib(memory.end.gateway.peakRssBytes), worker: mib(memory.end.worker.peakRssBytes) },
      };
      t.diagnostic(JSON.stringify(figures));
      console.log(JSON.stringify({ scenario: 'soak', ...figures }));

      assert.deepEqual(Object.fromEntries(phases), { [ReleasePhase.completed]: RELEASES });
      assert.equal(lost, 0, 'a version never promoted');
      assert.equal(doubled, 0, 'a version promoted twice');
      assert.equal(gateway.exited(), undefined);
      assert.equal(worker.exited(), undefined);
      assert.deepEqual(gateway.errorLines, []);
      assert.deepEqual(worker.errorLines, []);
    } finally {
      await stack.stop();
      await promotes.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
