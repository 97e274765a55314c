/**
 * The local Temporal dev server (`temporal server start-dev`) `npm start` runs when no
 * TEMPORAL_ADDRESS is given: Web UI included, state kept in a file in the cache so releases survive
 * a restart of `npm start`, Baton's search attributes registered.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { RELEASE_SEARCH_ATTRIBUTES } from '../model/search-attributes.js';

const SETUP_SCRIPT = fileURLToPath(new URL('./setup-servers.sh', import.meta.url));

export interface DevServerOptions {
  port: number;
  uiPort: number;
  /** SQLite file; state survives restarts. */
  dbFile: string;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
}

export function cacheDir(): string {
  return process.env.BATON_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'baton');
}

export function temporalCli(): string {
  if (process.env.BATON_TEMPORAL_BIN) return process.env.BATON_TEMPORAL_BIN;
  const output = execFileSync('bash', [SETUP_SCRIPT, 'temporal'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = /^temporal=(.+)$/m.exec(output)?.[1];
  if (path === undefined) throw new Error('scripts/setup-servers.sh did not provide the temporal CLI');
  return path;
}

async function waitUntilServing(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal server start-dev exited with code ${child.exitCode}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.close();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the dev server at ${address} did not come up: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  mkdirSync(join(options.dbFile, '..'), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--db-filename',
    options.dbFile,
    '--log-level',
    'warn',
    ...RELEASE_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
  const child = spawn(temporalCli(), args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `127.0.0.1:${options.port}`;
  try {
    await waitUntilServing(address, child, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    address,
    uiUrl: `http://localhost:${options.uiPort}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}
