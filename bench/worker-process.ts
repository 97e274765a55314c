/** `worker/main.ts` as a child process, for benchmarks that must not share its event loop. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER_MAIN = fileURLToPath(new URL('../worker/main.ts', import.meta.url));

export interface WorkerProcess {
  stop(): Promise<void>;
}

export async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_MAIN], {
    env: { ...process.env, LOG_LEVEL: 'info', BATON_WORKER_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('"msg":"worker running"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the worker exited with code ${String(code)} before running`)));
  });
  child.stdout.resume();
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
