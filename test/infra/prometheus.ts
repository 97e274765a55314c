/**
 * A real Prometheus for the promql verification checks, on loopback with a throw-away config and
 * data directory, scraping a tiny exporter the test serves itself (one gauge in the text exposition
 * format, whose value the test sets). `setGauge` resolves once Prometheus answers the new value, so
 * a test knows what a query sees.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/free-port.js';
import { serverBinary } from './binaries.js';

const STARTUP_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;
const LOG_TAIL_LINES = 40;
/** The gauge the exporter serves. */
export const TEST_GAUGE = 'baton_test_error_ratio';
const EXPORTER_JOB = 'baton-test-exporter';

export interface TestPrometheus {
  /** The HTTP API's base URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** Serves `value` as the gauge and resolves once a query of it answers `value`. */
  setGauge(value: number): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A test file that crashes must not leave Prometheus behind holding a port.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

async function instantValue(url: string, query: string): Promise<number | undefined> {
  const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(5_000) });
  const answer = (await response.json()) as { data?: { result?: { value?: [number, string] }[] } };
  const value = answer.data?.result?.[0]?.value?.[1];
  return value === undefined ? undefined : Number(value);
}

export async function startPrometheus(): Promise<TestPrometheus> {
  let gauge = 0;
  const exporter = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(`# HELP ${TEST_GAUGE} What the test says.\n# TYPE ${TEST_GAUGE} gauge\n${TEST_GAUGE} ${gauge}\n`);
  });
  const exporterPort = await listen(exporter);

  const dir = await mkdtemp(join(tmpdir(), 'baton-prometheus-'));
  const port = await freePort();
  const config = [
    'global: {scrape_interval: 1s, evaluation_interval: 1s}',
    'scrape_configs:',
    `  - job_name: ${EXPORTER_JOB}`,
    `    static_configs: [{targets: ['127.0.0.1:${exporterPort}']}]`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  const logPath = join(dir, 'prometheus.log');
  const log = createWriteStream(logPath);
  const child = spawn(
    serverBinary('prometheus'),
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      log.end();
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const logTail = async (): Promise<string> =>
    (await readFile(logPath, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const grace = new AbortController();
      const killed = sleep(STOP_TIMEOUT_MS, undefined, { signal: grace.signal }).then(
        () => child.kill('SIGKILL'),
        () => undefined,
      );
      await exited;
      grace.abort();
      await killed;
    }
    await new Promise<void>((resolve) => exporter.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // Ready, and the exporter scraped at least once.
    await eventually(
      'Prometheus to scrape the test exporter',
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${await logTail()}`);
        return (await instantValue(url, `up{job="${EXPORTER_JOB}"}`).catch(() => undefined)) === 1;
      },
      STARTUP_TIMEOUT_MS,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    async setGauge(value) {
      gauge = value;
      await eventually(`Prometheus to see ${TEST_GAUGE} = ${value}`, async () => (await instantValue(url, TEST_GAUGE)) === value);
    },
    stop,
  };
}
