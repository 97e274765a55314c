/**
 * `npm run bench -- worker-start`: how long a worker process takes from spawn until the Temporal
 * server sees its workflow poller, and its memory then, run as `npm run worker` does (tsx, the
 * workflows bundled at start) and as the image does (`npm run build` output, the prebuilt bundle).
 * Against a local dev server; BENCH_WORKER_START_RUNS runs of each (default 5), interleaved.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevServer } from '../test/infra/temporal.js';
import { buildInto, memoryOf, startWorker, type WorkerMode } from '../test/support/worker-start.js';

interface Sample {
  startToPollingMs: number;
  rssMiB: number;
  peakRssMiB: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round = (value: number): number => Math.round(value * 10) / 10;

function summary(samples: Sample[]): Record<string, number> {
  const ms = samples.map((s) => s.startToPollingMs);
  return {
    startToPollingMedianMs: round(median(ms)),
    startToPollingMinMs: round(Math.min(...ms)),
    startToPollingMaxMs: round(Math.max(...ms)),
    rssMedianMiB: round(median(samples.map((s) => s.rssMiB))),
    peakRssMedianMiB: round(median(samples.map((s) => s.peakRssMiB))),
  };
}

export async function runWorkerStartBenchmark(): Promise<void> {
  const runs = Number(process.env.BENCH_WORKER_START_RUNS ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-build-'));
  const temporal = await startDevServer();
  try {
    const buildStarted = performance.now();
    buildInto(dir);
    console.log(JSON.stringify({ bench: 'worker-start', step: 'npm run build', ms: Math.round(performance.now() - buildStarted) }));
    const modes: Record<string, WorkerMode> = {
      'tsx+bundle-at-start': { kind: 'tsx' },
      'compiled+prebuilt-bundle': { kind: 'compiled', dir },
    };
    const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(modes).map((name) => [name, []]));
    for (let run = 0; run < runs; run += 1) {
      for (const [name, mode] of Object.entries(modes)) {
        const worker = await startWorker({
          mode,
          client: temporal.client,
          temporalAddress: temporal.address,
          taskQueue: `bench-worker-start-${name}-${run}`,
        });
        const memory = memoryOf(worker.child.pid!);
        await worker.stop();
        samples[name]!.push({ startToPollingMs: worker.startToPollingMs, ...memory });
      }
    }
    const results = Object.fromEntries(Object.entries(samples).map(([name, list]) => [name, summary(list)]));
    for (const [name, result] of Object.entries(results))
      console.log(JSON.stringify({ bench: 'worker-start', mode: name, runs, ...result }));
    const tsx = results['tsx+bundle-at-start']!;
    const compiled = results['compiled+prebuilt-bundle']!;
    console.log(
      JSON.stringify({
        bench: 'worker-start',
        startToPollingRatio: round(tsx.startToPollingMedianMs! / compiled.startToPollingMedianMs!),
        rssRatio: round(tsx.rssMedianMiB! / compiled.rssMedianMiB!),
        peakRssRatio: round(tsx.peakRssMedianMiB! / compiled.peakRssMedianMiB!),
      }),
    );
  } finally {
    await temporal.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}
