/**
 * Where Baton finds its Kubernetes API server: `KUBECONFIG` (or ~/.kube/config) outside a cluster,
 * the pod's service account inside one — the same order as kubectl and client-go.
 */
import { KubeConfig } from '@kubernetes/client-node';

/** What client-node's loadFromDefault falls back to when it finds no configuration at all. */
const IMPLICIT_FALLBACK_SERVER = 'http://localhost:8080';

function isImplicitFallback(kubeConfig: KubeConfig): boolean {
  const cluster = kubeConfig.getCurrentCluster();
  return cluster?.name === 'cluster' && cluster.server === IMPLICIT_FALLBACK_SERVER && kubeConfig.getCurrentUser()?.name === 'user';
}

export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

/**
 * Loads `path` when given, else the default configuration. Throws when there is none: client-node
 * would silently talk to an unauthenticated http://localhost:8080, which is never what an operator
 * meant and fails later with a confusing connection error.
 */
export function loadKubeConfig(options: { path?: string } = {}): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (options.path !== undefined) kubeConfig.loadFromFile(options.path);
  else kubeConfig.loadFromDefault();
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) {
    throw new KubeConfigError(`the Kubernetes configuration has no current cluster (context '${kubeConfig.getCurrentContext()}')`);
  }
  if (options.path === undefined && isImplicitFallback(kubeConfig)) {
    throw new KubeConfigError(
      'no Kubernetes configuration found: set KUBECONFIG, provide ~/.kube/config, or run in a pod with a service account',
    );
  }
  return kubeConfig;
}
