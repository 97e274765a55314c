/**
 * `npm run bench [-- name…]`: runs every benchmark, or the named ones, each printing its figures as
 * JSON lines on stdout. Benchmarks are files in bench/ exporting `run()`; the list is explicit.
 */
import { runGitStepBenchmark } from './git-step.js';
import { runHistoryCostBenchmark } from './history-cost.js';
import { runStopTheLineBenchmark } from './stop-the-line.js';
import { runTemporalCeilingBenchmark } from './temporal-ceiling.js';
import { runWebhookAcceptBenchmark } from './webhook-accept.js';
import { runWorkerStartBenchmark } from './worker-start.js';

const BENCHMARKS: Record<string, () => Promise<void>> = {
  'webhook-accept': runWebhookAcceptBenchmark,
  'git-step': runGitStepBenchmark,
  'worker-start': runWorkerStartBenchmark,
  'stop-the-line': runStopTheLineBenchmark,
  'history-cost': runHistoryCostBenchmark,
  'temporal-ceiling': runTemporalCeilingBenchmark,
};

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  }
  for (const name of requested.length > 0 ? requested : Object.keys(BENCHMARKS)) {
    console.error(`[bench] ${name}`);
    await BENCHMARKS[name]!();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
