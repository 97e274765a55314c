/**
 * Reading deploy/ for the deploy tests: YAML files, the chart's templates without Helm (a
 * "skeleton" with the template actions taken out), a small renderer for the chart's `baton.env`
 * block, and `helm template` (helm from scripts/setup-servers.sh).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { configSchema } from '../../config/config.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY = join(REPO, 'deploy');
export const CHART = join(DEPLOY, 'chart');
export const TEMPLATES = join(CHART, 'templates');
export const EXAMPLES = join(DEPLOY, 'examples');
export const CRDS = join(DEPLOY, 'crds');

/** Kubernetes version `helm template` renders for (a helm built without ldflags assumes 1.20). */
export const KUBE_VERSION = '1.34.4';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
}

export function repoPath(path: string): string {
  return relative(REPO, path);
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Every *.yaml / *.yml file under `dir`, sorted. */
export function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** The non-empty documents of a YAML text; throws with `what` on any parse error. */
export function parseDocuments<T = unknown>(text: string, what: string): T[] {
  const documents = parseAllDocuments(text);
  const list = Array.isArray(documents) ? documents : [documents];
  const result: T[] = [];
  list.forEach((doc, index) => {
    if (doc.errors.length > 0) throw new Error(`${what}, document ${index}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as T | null;
    if (value !== null) result.push(value);
  });
  return result;
}

export function readDocuments<T = unknown>(path: string): T[] {
  return parseDocuments<T>(readText(path), repoPath(path));
}

/** Placeholder for an inline template action (a name, a number, a label value). */
export const PLACEHOLDER = 'tpl';

/**
 * A template without Helm: lines holding only an action (`{{- if }}`, `{{- include … | nindent }}`,
 * `{{- end }}`) are dropped, inline actions become PLACEHOLDER. Both branches of a conditional
 * stay, so the static YAML of every branch is checked. Good enough for the chart's own templates,
 * which keep each action on its own line or inline as a whole scalar.
 */
export function templateSkeleton(template: string): string {
  return template
    .split('\n')
    .filter((line) => !/^\s*\{\{.*\}\}\s*$/.test(line))
    .map((line) => line.replace(/\{\{.*?\}\}/g, PLACEHOLDER))
    .join('\n');
}

export function skeletonDocuments(templateFile: string): Manifest[] {
  return parseDocuments<Manifest>(templateSkeleton(readText(join(TEMPLATES, templateFile))), `skeleton of ${templateFile}`);
}

/** The chart's template files that render manifests (not helpers or NOTES). */
export function manifestTemplates(): string[] {
  return readdirSync(TEMPLATES)
    .filter((name) => name.endsWith('.yaml'))
    .sort();
}

/** `.Values.a.b` paths used anywhere in the chart's templates. */
export function valuesPathsInTemplates(): Set<string> {
  const paths = new Set<string>();
  for (const name of readdirSync(TEMPLATES)) {
    for (const match of readText(join(TEMPLATES, name)).matchAll(/\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      paths.add(match[1]!.slice(1));
    }
  }
  return paths;
}

export function lookup(values: unknown, path: string): unknown {
  let current = values;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !(key in current)) {
      throw new Error(`.Values.${path} is not defined in values.yaml`);
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The body of `{{- define "<name>" -}}` … its matching `{{- end }}` in _helpers.tpl. */
export function defineBody(helpers: string, name: string): string {
  const start = helpers.indexOf(`{{- define "${name}" -}}`);
  if (start < 0) throw new Error(`_helpers.tpl defines no "${name}"`);
  const action = /\{\{-?\s*([\s\S]*?)\s*-?\}\}/g;
  action.lastIndex = start;
  let depth = 0;
  let bodyStart = 0;
  for (let match = action.exec(helpers); match !== null; match = action.exec(helpers)) {
    const text = match[1]!;
    if (/^(define|if|with|range)\b/.test(text)) {
      depth += 1;
      if (depth === 1) bodyStart = action.lastIndex;
    } else if (text === 'end') {
      depth -= 1;
      if (depth === 0) return helpers.slice(bodyStart, match.index);
    }
  }
  throw new Error(`"${name}" in _helpers.tpl has no matching end`);
}

/** Go template truthiness: false, 0, nil and empty strings, lists and maps are false. */
function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

function unsupported(what: string): Error {
  return new Error(
    `renderEnv does not understand ${JSON.stringify(what)}: keep "baton.env" to the forms test/deploy/chart-files.ts knows, or teach it`,
  );
}

function operand(values: unknown, text: string): unknown {
  const path = /^\.Values\.([A-Za-z0-9_.]+)$/.exec(text);
  if (path !== null) return lookup(values, path[1]!);
  const literal = /^"([^"]*)"$/.exec(text);
  if (literal !== null) return literal[1];
  throw unsupported(text);
}

function condition(values: unknown, text: string): boolean {
  const not = /^not (.+)$/.exec(text);
  if (not !== null) return !condition(values, not[1]!);
  const eq = /^eq (\S+) (\S+)$/.exec(text);
  if (eq !== null) return operand(values, eq[1]!) === operand(values, eq[2]!);
  return truthy(operand(values, text));
}

/** The chart's "baton.duration" helper: a number is seconds, a string passes as is. */
function duration(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return `${Math.trunc(value)}s`;
  throw new Error(`not a duration: ${JSON.stringify(value)}`);
}

function expression(values: unknown, text: string): string {
  const [head, ...filters] = text.split(' | ').map((part) => part.trim());
  let value: unknown;
  let match: RegExpExecArray | null;
  if ((match = /^include "baton\.duration" (\S+)$/.exec(head!)) !== null) value = duration(operand(values, match[1]!));
  else if ((match = /^join "([^"]*)" (\S+)$/.exec(head!)) !== null) {
    const list = operand(values, match[2]!);
    if (!Array.isArray(list)) throw new Error(`join of a non-list: ${head}`);
    value = list.map(String).join(match[1]);
  } else value = operand(values, head!);
  for (const filter of filters) {
    if (filter === 'int') value = Math.trunc(Number(value));
    else if (filter === 'quote') value = JSON.stringify(String(value));
    else throw unsupported(filter);
  }
  return String(value);
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

/**
 * Renders the chart's `baton.env` block for `values`, the way Helm would, for the forms that block
 * uses: `if` (with `else if` and `else`) on a value, `eq`, `not`; `.Values.x | quote`, `| int | quote`, `join`, and the
 * `baton.duration` helper. Anything else throws, so a change to the block cannot slip past it.
 */
export function renderEnv(values: unknown): EnvVar[] {
  const body = defineBody(readText(join(TEMPLATES, '_helpers.tpl')), 'baton.env');
  // One frame per open `if`: whether its current branch renders, and whether any branch has.
  const frames: { enabled: boolean; taken: boolean }[] = [];
  const out: string[] = [];
  for (const line of body.split('\n')) {
    if (line.trim() === '') continue;
    const only = /^\s*\{\{-?\s*(.*?)\s*-?\}\}\s*$/.exec(line);
    if (only !== null) {
      const action = only[1]!;
      const frame = frames.at(-1);
      if (action.startsWith('if ')) {
        const holds = condition(values, action.slice(3));
        frames.push({ enabled: holds, taken: holds });
      } else if (action.startsWith('else if ') && frame !== undefined) {
        frame.enabled = !frame.taken && condition(values, action.slice(8));
        frame.taken ||= frame.enabled;
      } else if (action === 'else' && frame !== undefined) {
        frame.enabled = !frame.taken;
        frame.taken = true;
      } else if (action === 'end' && frame !== undefined) frames.pop();
      else throw unsupported(action);
      continue;
    }
    if (frames.every((f) => f.enabled))
      out.push(line.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_all, text: string) => expression(values, text)));
  }
  return parseDocuments<EnvVar[]>(out.join('\n'), 'rendered baton.env')[0] ?? [];
}

/** The env a rendered list holds, as process.env would see it (valueFrom entries left out). */
export function envRecord(env: EnvVar[]): Record<string, string> {
  return Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

/** Environment variable names the templates set (`- name: UPPER_CASE`). */
export function envNamesInTemplates(): Set<string> {
  const names = new Set<string>();
  for (const name of readdirSync(TEMPLATES)) {
    for (const match of readText(join(TEMPLATES, name)).matchAll(/^\s*-\s+name:\s+([A-Z][A-Z0-9_]*)\s*$/gm)) names.add(match[1]!);
  }
  return names;
}

/** The variables config/config.ts reads: the keys of its env-schema `configSchema.properties`. */
export function configSchemaKeys(): Set<string> {
  return new Set(Object.keys(configSchema.properties));
}

/** `helm template baton deploy/chart` with extra arguments (e.g. `-f values.yaml`). */
export function helmTemplate(helm: string, args: string[] = [], namespace = 'baton-system'): Manifest[] {
  const output = execFileSync(helm, ['template', 'baton', CHART, '--namespace', namespace, '--kube-version', KUBE_VERSION, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parseDocuments<Manifest>(output, 'helm template output');
}

export function helmLint(helm: string, args: string[] = []): string {
  return execFileSync(helm, ['lint', CHART, '--strict', '--kube-version', KUBE_VERSION, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** `(group, resource, verb)` triples a set of rules grants, e.g. `pipelines.weave.works pipelines list`. */
export function grants(rules: PolicyRule[]): Set<string> {
  const triples = new Set<string>();
  for (const rule of rules) {
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs) triples.add(`${group === '' ? 'core' : group} ${resource} ${verb}`);
      }
    }
  }
  return triples;
}

/** The ServiceAccount a rendered Deployment (`<release>-<component>`) runs as. */
export function serviceAccountOf(docs: Manifest[], component: 'gateway' | 'worker'): string {
  const deployment = docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith(`-${component}`));
  if (deployment === undefined) throw new Error(`no ${component} Deployment rendered`);
  const spec = (deployment.spec as { template: { spec: { serviceAccountName?: string } } }).template.spec;
  return spec.serviceAccountName ?? 'default';
}

interface Binding extends Manifest {
  roleRef: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/**
 * What the rendered RBAC grants one ServiceAccount, following its bindings: `cluster` from
 * ClusterRoleBindings, `namespaced` from RoleBindings (by the binding's namespace).
 */
export function grantsOfServiceAccount(
  docs: Manifest[],
  serviceAccount: { namespace: string; name: string },
): { cluster: Set<string>; namespaced: Map<string, Set<string>> } {
  const bound = (binding: Binding): boolean =>
    (binding.subjects ?? []).some(
      (s) => s.kind === 'ServiceAccount' && s.name === serviceAccount.name && s.namespace === serviceAccount.namespace,
    );
  const role = (kind: string, name: string, namespace?: string): PolicyRule[] =>
    (docs.find((d) => d.kind === kind && d.metadata.name === name && (namespace === undefined || d.metadata.namespace === namespace))
      ?.rules as PolicyRule[] | undefined) ?? [];
  const cluster = grants(
    (docs.filter((d) => d.kind === 'ClusterRoleBinding') as Binding[]).filter(bound).flatMap((b) => role('ClusterRole', b.roleRef.name)),
  );
  const namespaced = new Map<string, Set<string>>();
  for (const binding of (docs.filter((d) => d.kind === 'RoleBinding') as Binding[]).filter(bound)) {
    const namespace = binding.metadata.namespace ?? '';
    const rules =
      binding.roleRef.kind === 'ClusterRole' ? role('ClusterRole', binding.roleRef.name) : role('Role', binding.roleRef.name, namespace);
    namespaced.set(namespace, new Set([...(namespaced.get(namespace) ?? []), ...grants(rules)]));
  }
  return { cluster, namespaced };
}

/** Relative module paths (as .ts files) and `new URL('…', import.meta.url)` files a source file loads. */
export function localDependencies(file: string): { files: string[]; packages: string[] } {
  const source = readFileSync(file, 'utf8');
  const files: string[] = [];
  const packages: string[] = [];
  const specifiers = [
    // `import type` and `export type` are erased before run time: they need no package.
    ...source.matchAll(/^\s*(?:import|export)\s(?!type\s)[^'"]*?from\s+'([^']+)'/gm),
    ...source.matchAll(/^\s*import\s+'([^']+)'/gm),
    ...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ].map((m) => m[1]!);
  for (const specifier of specifiers) {
    if (specifier.startsWith('.')) files.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
    else if (!specifier.startsWith('node:'))
      packages.push(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
  }
  for (const match of source.matchAll(/new URL\(\s*'(\.[^']+)',\s*import\.meta\.url\s*\)/g)) {
    files.push(resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts')));
  }
  return { files, packages };
}

/** Everything the gateway and the worker load at runtime, from their entry points. */
export function runtimeClosure(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = entries.map((entry) => join(REPO, entry));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (!file.endsWith('.ts')) continue;
    assert.ok(existsSync(file), `${repoPath(file)} (imported at runtime) exists`);
    const deps = localDependencies(file);
    deps.packages.forEach((p) => packages.add(p));
    queue.push(...deps.files);
  }
  return { files, packages };
}

/** One `FROM … [AS name]` stage of a Dockerfile: its base, name and the instructions after it. */
export interface DockerStage {
  from: string;
  name?: string;
  instructions: { keyword: string; args: string }[];
}

/** The stages of a Dockerfile: comments dropped, `\` continuations joined, keywords upper-cased. */
export function dockerfileStages(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  for (const line of joined.split('\n')) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const keyword = match[1]!.toUpperCase();
    const args = match[2]!.trim();
    if (keyword === 'FROM') {
      const [from, as, name] = args.split(/\s+/);
      stages.push({ from: from!, ...(as?.toUpperCase() === 'AS' && name !== undefined ? { name } : {}), instructions: [] });
    } else stages.at(-1)?.instructions.push({ keyword, args });
  }
  return stages;
}

/** `COPY [--from=x] src… dest` of a stage, as `{ from, sources, dest }`. */
export function dockerCopies(stage: DockerStage): { from?: string; sources: string[]; dest: string }[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const from = words[0]?.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
      const dest = words.pop()!;
      return { ...(from === undefined ? {} : { from }), sources: words, dest };
    });
}

/* deploy/monitoring: the PrometheusRule and the Grafana dashboard. */

export const MONITORING = join(DEPLOY, 'monitoring');

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface PrometheusRule extends Manifest {
  spec: { groups: { name: string; rules: Rule[] }[] };
}
export interface Dashboard {
  title: string;
  uid: string;
  panels: { id: number; title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; query?: unknown; definition?: string }[] };
}

/** Every query of deploy/monitoring: the rules' expressions and the dashboard's targets and variables. */
export function monitoringQueries(): string[] {
  const [rule] = readDocuments<PrometheusRule>(join(MONITORING, 'prometheus-rule.yaml'));
  const dashboard = JSON.parse(readText(join(MONITORING, 'grafana-dashboard.json'))) as Dashboard;
  return [
    ...rule!.spec.groups.flatMap((g) => g.rules.map((r) => r.expr)),
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ...dashboard.templating.list.flatMap((v) => (v.definition === undefined ? [] : [v.definition])),
  ];
}

/** The metric names (`baton_…`, `temporal_…`) the queries use. */
export function metricNames(queries: string[], prefix: 'baton_' | 'temporal_'): Set<string> {
  return new Set(queries.flatMap((q) => [...q.matchAll(new RegExp(`\\b${prefix}[a-z_]+\\b`, 'g'))].map((m) => m[0])));
}
