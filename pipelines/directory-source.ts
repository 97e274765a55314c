/**
 * Pipelines and Secrets from a directory of YAML manifests (multi-document files, nested folders):
 * the embedded default. A malformed manifest is reported with its file and field and skipped; it
 * never stops the others from loading. Files are re-read when the directory changes.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Logger } from 'pino';
import { parseAllDocuments } from 'yaml';
import { type Pipeline, type PipelineRef, pipelineKey } from '../model/pipeline.js';
import { type PipelineSource, type SecretData, secretData } from './source.js';
import { isPipelineManifest, pipelineFromManifest } from './validate.js';

interface SecretManifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface ManifestProblem {
  file: string;
  document: number;
  problems: string[];
}

interface Snapshot {
  pipelines: Map<string, Pipeline>;
  secrets: Map<string, SecretData>;
  problems: ManifestProblem[];
}

async function yamlFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

export async function readManifestDirectory(directory: string): Promise<Snapshot> {
  const snapshot: Snapshot = { pipelines: new Map(), secrets: new Map(), problems: [] };
  for (const path of await yamlFiles(directory)) {
    const file = relative(process.cwd(), path);
    const documents = parseAllDocuments(await readFile(path, 'utf8'));
    const list = Array.isArray(documents) ? documents : [documents];
    list.forEach((doc, index) => {
      if (doc.errors.length > 0) {
        snapshot.problems.push({ file, document: index, problems: doc.errors.map((e) => e.message) });
        return;
      }
      const manifest = doc.toJS() as SecretManifest | null;
      if (manifest === null) return;
      if (manifest.kind === 'Secret' && manifest.apiVersion === 'v1') {
        const { name, namespace } = manifest.metadata ?? {};
        if (name === undefined || namespace === undefined) {
          snapshot.problems.push({ file, document: index, problems: ['Secret needs metadata.name and metadata.namespace'] });
          return;
        }
        snapshot.secrets.set(`${namespace}/${name}`, secretData(manifest));
      } else if (isPipelineManifest(manifest)) {
        const result = pipelineFromManifest(manifest);
        if (result.ok) snapshot.pipelines.set(pipelineKey(result.pipeline), result.pipeline);
        else snapshot.problems.push({ file, document: index, problems: result.problems });
      }
    });
  }
  return snapshot;
}

export class DirectoryPipelineSource implements PipelineSource {
  private snapshot: Snapshot | undefined;
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly directory: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.reload();
    this.watcher = watch(this.directory, { recursive: true }, () => this.scheduleReload());
    this.watcher.on('error', (error) => this.log.warn({ err: error }, 'watching the Pipeline directory failed'));
  }

  stop(): Promise<void> {
    clearTimeout(this.reloadTimer);
    this.watcher?.close();
    return Promise.resolve();
  }

  isSynced(): boolean {
    return this.snapshot !== undefined;
  }

  getPipeline(ref: PipelineRef): Pipeline | undefined {
    return this.snapshot?.pipelines.get(pipelineKey(ref));
  }

  listPipelines(): Pipeline[] {
    return [...(this.snapshot?.pipelines.values() ?? [])];
  }

  getSecret(namespace: string, name: string): Promise<SecretData | undefined> {
    return Promise.resolve(this.snapshot?.secrets.get(`${namespace}/${name}`));
  }

  /** Problems found by the last load, for health reporting and tests. */
  problems(): readonly ManifestProblem[] {
    return this.snapshot?.problems ?? [];
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reload().catch((error: unknown) => this.log.error({ err: error }, 'reloading Pipelines failed'));
    }, 200);
  }

  private async reload(): Promise<void> {
    const snapshot = await readManifestDirectory(this.directory);
    for (const { file, document, problems } of snapshot.problems) {
      this.log.error({ file, document, problems }, `ignoring invalid manifest in ${file}: ${problems.join('; ')}`);
    }
    this.snapshot = snapshot;
    this.log.info(
      { directory: this.directory, pipelines: snapshot.pipelines.size, secrets: snapshot.secrets.size },
      'loaded Pipelines from directory',
    );
  }
}
