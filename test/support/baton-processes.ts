/**
 * Baton's gateway and worker as separate processes, started the way `npm run gateway` and
 * `npm run worker` start them (configuration from the environment): for replicas, and for
 * benchmarks that must not share their event loop with the load generator.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY_POINTS = {
  gateway: fileURLToPath(new URL('../../gateway/server.ts', import.meta.url)),
  worker: fileURLToPath(new URL('../../worker/main.ts', import.meta.url)),
} as const;

export interface BatonProcess {
  /** The gateway's address, e.g. `http://127.0.0.1:41234`; empty for a worker. */
  url: string;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Spawns `component` and resolves once its log says it serves: "gateway listening on …" (the
 * address it took, `BATON_PORT` 0 picks a free one) or "worker running".
 */
function startBatonProcess(component: keyof typeof ENTRY_POINTS, env: Record<string, string>): Promise<BatonProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ENTRY_POINTS[component]], {
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      // Off unless asked for: replicas would contend for the default port.
      BATON_WORKER_METRICS_PORT: '0',
      BATON_HOST: '127.0.0.1',
      BATON_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise<BatonProcess>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const gateway = /"msg":"gateway listening on (http[^"]+)"/.exec(output);
      if (gateway !== null || output.includes('"msg":"worker running"')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve({ url: gateway?.[1] ?? '', stderr: () => stderr, stop });
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the ${component} exited with code ${String(code)} before serving:\n${stderr}`)));
  });
}

export function startGatewayProcess(env: Record<string, string>): Promise<BatonProcess> {
  return startBatonProcess('gateway', env);
}

export function startWorkerProcess(env: Record<string, string>): Promise<BatonProcess> {
  return startBatonProcess('worker', env);
}
