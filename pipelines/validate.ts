/**
 * Validates Pipeline manifests against the CRD's own openAPIV3Schema (deploy/crds/), so a Pipeline
 * Baton accepts from a directory is exactly one the kube-apiserver would accept, plus the rules the
 * schema cannot say (unique environment names).
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { parse } from 'yaml';
import { PIPELINE_API_VERSION, PIPELINE_KIND, type Pipeline, type PipelineSpec } from '../model/pipeline.js';

const CRD_PATH = new URL('../deploy/crds/pipelines.weave.works_pipelines.yaml', import.meta.url);

interface CrdDocument {
  spec: { versions: { name: string; schema: { openAPIV3Schema: { properties: { spec: object } } } }[] };
}

function loadSpecSchema(): object {
  const crd = parse(readFileSync(CRD_PATH, 'utf8')) as CrdDocument;
  const version = crd.spec.versions.find((v) => v.name === 'v1alpha1');
  if (version === undefined) throw new Error(`${CRD_PATH.pathname} has no v1alpha1 version`);
  return version.schema.openAPIV3Schema.properties.spec;
}

// OpenAPI's `format: int64` and descriptions are not JSON Schema keywords Ajv knows in strict mode.
const validateSpec = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile<PipelineSpec>(loadSpecSchema());

function describe(error: ErrorObject): string {
  const field = `spec${error.instancePath.replaceAll('/', '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]')}`;
  if (error.keyword === 'required') {
    return `${field}.${(error.params as { missingProperty: string }).missingProperty}: required`;
  }
  if (error.keyword === 'enum') {
    return `${field}: must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  }
  return `${field}: ${error.message ?? 'invalid'}`;
}

export type ManifestResult = { ok: true; pipeline: Pipeline } | { ok: false; problems: string[] };

export function isPipelineManifest(manifest: unknown): boolean {
  const m = manifest as { apiVersion?: unknown; kind?: unknown } | null;
  return m?.kind === PIPELINE_KIND && m.apiVersion === PIPELINE_API_VERSION;
}

/** Turns a Pipeline object (as read from YAML or the Kubernetes API) into a validated `Pipeline`. */
export function pipelineFromManifest(manifest: unknown): ManifestResult {
  const m = manifest as {
    metadata?: {
      name?: unknown;
      namespace?: unknown;
      uid?: unknown;
      generation?: unknown;
      annotations?: Record<string, string>;
    };
    spec?: unknown;
  };
  const problems: string[] = [];
  const name = m.metadata?.name;
  const namespace = m.metadata?.namespace;
  if (typeof name !== 'string' || name === '') problems.push('metadata.name: required');
  if (typeof namespace !== 'string' || namespace === '') problems.push('metadata.namespace: required');
  if (m.spec === undefined || m.spec === null) {
    problems.push('spec: required');
  } else if (!validateSpec(m.spec)) {
    problems.push(...(validateSpec.errors ?? []).map(describe));
  } else {
    const seen = new Set<string>();
    m.spec.environments.forEach((env, i) => {
      if (seen.has(env.name)) problems.push(`spec.environments[${i}].name: '${env.name}' is defined twice`);
      seen.add(env.name);
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    pipeline: {
      namespace: namespace as string,
      name: name as string,
      uid: typeof m.metadata?.uid === 'string' ? m.metadata.uid : undefined,
      generation: typeof m.metadata?.generation === 'number' ? m.metadata.generation : undefined,
      annotations: m.metadata?.annotations,
      spec: m.spec as PipelineSpec,
    },
  };
}
