/**
 * Where Pipelines and their Secrets come from. The gateway and the worker's activities read them
 * through this interface; `kubernetes-source.ts` and `directory-source.ts` implement it.
 */
import type { Pipeline, PipelineRef } from '../model/pipeline.js';

/** A Secret's data, decoded from base64 (or taken from `stringData`). */
export type SecretData = Readonly<Record<string, Buffer>>;

/** Decodes a Secret as the API serves it (`data`) or as a manifest may write it (`stringData` too, which wins). */
export function secretData(secret: { data?: Record<string, string>; stringData?: Record<string, string> }): SecretData {
  const data: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(value, 'base64');
  for (const [key, value] of Object.entries(secret.stringData ?? {})) data[key] = Buffer.from(value, 'utf8');
  return data;
}

export interface PipelineSource {
  /** Loads or lists the Pipelines once; resolves when the first sync is complete. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True once the initial sync is complete and the source is still connected. */
  isSynced(): boolean;
  /** From the in-memory cache: never a remote call per request. */
  getPipeline(ref: PipelineRef): Pipeline | undefined;
  /** Every valid Pipeline, from the same cache (the release trains' Schedules follow them). */
  listPipelines(): Pipeline[];
  /** Reads one Secret by name (never a list or watch of Secrets). */
  getSecret(namespace: string, name: string): Promise<SecretData | undefined>;
}
