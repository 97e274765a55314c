/**
 * Measured processes: the gateway and the worker each as a process of its own (`gateway/server.ts`, `worker/main.ts`
 * under tsx), as production runs them, for the reliability scenarios: a crash is an exit, and
 * memory is the process's own resident set (`/proc/<pid>/status`), not the test runner's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const GATEWAY_MAIN = fileURLToPath(new URL('../../gateway/server.ts', import.meta.url));
const WORKER_MAIN = fileURLToPath(new URL('../../worker/main.ts', import.meta.url));
/** Log lines at pino's `error` level or above are kept; more than this many are only counted. */
const KEPT_ERROR_LINES = 50;
const PINO_ERROR = 50;

export interface MemoryFigures {
  /** Resident set now, bytes. */
  rssBytes: number;
  /** The highest resident set the process reached (`VmHWM`), bytes. */
  peakRssBytes: number;
}

export interface BatonProcess {
  pid: number;
  /** Log lines at `error` or `fatal` (the first few), and how many there were. */
  errorLines: string[];
  errorCount(): number;
  /** The exit code or signal once the process ended, undefined while it runs. */
  exited(): string | undefined;
  memory(): Promise<MemoryFigures>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

export interface GatewayProcess extends BatonProcess {
  /** `http://127.0.0.1:<port>`. */
  url: string;
}

interface LogLine {
  level?: number;
  msg?: string;
  address?: string;
}

/** Reads `VmRSS` and `VmHWM` of a running process. */
export async function processMemory(pid: number): Promise<MemoryFigures> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match === null) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
}

export const MiB = 1024 * 1024;
/** `123.4 MiB`, for reports. */
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

/**
 * Starts `main` with `env` and resolves once a log line satisfies `ready`; its stdout is read line
 * by line to the end (so the pipe never fills), keeping error lines.
 */
async function startProcess<T>(
  name: string,
  main: string,
  env: Record<string, string>,
  ready: (line: LogLine) => T | undefined,
): Promise<{ process: BatonProcess; readiness: T }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', main], {
    // `info` whatever the caller sets: readiness is read from an info line.
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const errorLines: string[] = [];
  let errors = 0;
  let exit: string | undefined;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = signal ?? String(code);
      resolve();
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    // Stack traces of a crash land here; kept short.
    if (stderr.length < 16_384) stderr += chunk.toString('utf8');
  });
  const readiness = await new Promise<T>((resolve, reject) => {
    let pending = '';
    let resolved = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          continue;
        }
        if ((line.level ?? 0) >= PINO_ERROR) {
          errors += 1;
          if (errorLines.length < KEPT_ERROR_LINES) errorLines.push(text.slice(0, 2000));
        }
        if (!resolved) {
          const value = ready(line);
          if (value !== undefined) {
            resolved = true;
            resolve(value);
          }
        }
      }
    });
    child.once('exit', (code) => {
      if (!resolved) reject(new Error(`the ${name} exited with code ${String(code)} before it was ready:\n${stderr}`));
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`the ${name} has no pid`);
  return {
    readiness,
    process: {
      pid,
      errorLines,
      errorCount: () => errors,
      exited: () => exit,
      memory: () => processMemory(pid),
      async stop() {
        if (exit === undefined) child.kill('SIGTERM');
        await exitedPromise;
      },
    },
  };
}

/** `tsx gateway/server.ts` on a free loopback port; `env` is its configuration (TEMPORAL_ADDRESS, BATON_PIPELINES_DIR, …). */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const { process: gateway, readiness: url } = await startProcess(
    'gateway',
    GATEWAY_MAIN,
    { BATON_HOST: '127.0.0.1', BATON_PORT: '0', ...env },
    (line) => (line.msg?.startsWith('gateway listening on') === true ? line.address : undefined),
  );
  return { ...gateway, url };
}

/** `tsx worker/main.ts`, without its metrics port; resolves once it polls its task queues. */
export async function startWorkerProcess(env: Record<string, string>): Promise<BatonProcess> {
  const { process: worker } = await startProcess('worker', WORKER_MAIN, { BATON_WORKER_METRICS_PORT: '0', ...env }, (line) =>
    line.msg === 'worker running' ? true : undefined,
  );
  return worker;
}
