/** `gateway/server.ts` as its own process (what `npm run gateway` runs), which a test can SIGKILL. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../support/free-port.js';

const GATEWAY_MAIN = fileURLToPath(new URL('../../../gateway/server.ts', import.meta.url));

export interface GatewayProcess {
  url: string;
  /** SIGKILL, and resolves once the process is gone. */
  kill(): Promise<void>;
}

export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', GATEWAY_MAIN], {
    env: { ...process.env, LOG_LEVEL: 'info', BATON_HOST: '127.0.0.1', BATON_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.includes('gateway listening on')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`the gateway exited with ${String(code)} before listening:\n${output}`)));
  });
  child.stdout.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
