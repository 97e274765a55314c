/** The Pipeline source the configuration asks for; the gateway and the worker share this choice. */
import type { Logger } from 'pino';
import type { PipelineSourceConfig } from '../config/config.js';
import { DirectoryPipelineSource } from './directory-source.js';
import type { PipelineSource } from './source.js';

export async function createPipelineSource(config: PipelineSourceConfig, log: Logger): Promise<PipelineSource> {
  if (config.kind === 'directory') return new DirectoryPipelineSource(config.directory, log);
  // Loaded on demand: the Kubernetes client is heavy and directory mode never needs it.
  const [{ KubernetesPipelineSource }, { loadKubeConfig }] = await Promise.all([
    import('./kubernetes-source.js'),
    import('./kube-config.js'),
  ]);
  return new KubernetesPipelineSource(loadKubeConfig(), log);
}
