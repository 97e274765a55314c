/**
 * The Temporal servers the end-to-end path is proven on: the CLI's dev server (what `npm start`
 * runs) and a production server on PostgreSQL with SQL visibility (what a self-hosted cluster runs).
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDevServer } from './temporal.js';
import { startPostgresServer } from './temporal-postgres.js';

export interface TemporalServerKind {
  name: string;
  start(): Promise<TestWorkflowEnvironment>;
}

export const TEMPORAL_SERVERS: readonly TemporalServerKind[] = [
  { name: 'dev server', start: () => startDevServer() },
  { name: 'production server on PostgreSQL', start: () => startPostgresServer() },
];
